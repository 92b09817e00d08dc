#include <fmt/format.h>

#include <algorithm>

#include "commands.h"
#include "octrain/report/report.h"
#include "octrain/util/error.h"

namespace octrain::app {

void write_report_for(const std::vector<std::string>& dirs, const std::string& out,
                      const std::string& title, bool overlay) {
  std::vector<report::Experiment> experiments;
  // Every directory is read before anything is drawn, so a bad one costs no half report.
  for (const auto& dir : dirs) experiments.push_back(report::load_experiment(dir));
  // Single runs are overlaid in one set of figures; grids only when asked.
  const bool all_single = std::all_of(experiments.begin(), experiments.end(), [](const auto& e) {
    return e.methods.size() == 1 && e.methods.front().seeds.size() == 1 &&
           e.methods.front().seeds.front().dir == e.dir;
  });
  if (experiments.size() > 1 && (overlay || all_single))
    experiments = {report::overlay_experiments(experiments)};
  report::ReportOptions options;
  options.out = out;
  if (!title.empty()) options.title = title;
  const auto files = report::write_report(experiments, options);
  fmt::print("report: {} and {} ({} figures)\n", files.markdown, files.html, files.figures.size());
}

void add_report_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "report", "Curves, final-metric tables and reference figures of compare grids or runs");
  command->footer(
      "Example:\n"
      "  octrain compare --config configs/emsa-toy.toml --profile quick   (reports by itself)\n"
      "  octrain report runs/emsa-toy runs/wine-baselines -o out/report\n"
      "  octrain report runs/wine-adam runs/wine-sgd -o out/wine   (single runs: one figure)\n"
      "Writes OUT/report.md, OUT/index.html and OUT/figures/*.svg (gnuplot).");
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto title = std::make_shared<std::string>();
  command->add_option("RUNDIR", *dirs, "compare output directories or run directories")
      ->type_name("DIR ...")
      ->required();
  command->add_option("--out,-o", *out, "report folder (default: RUNDIR/report for one RUNDIR)")
      ->type_name("DIR");
  command->add_option("--title", *title, "the report's heading")->type_name("TITLE");
  auto overlay = std::make_shared<bool>(false);
  command->add_flag("--overlay", *overlay,
                    "draw every run of all RUNDIRs in one set of figures (single runs always are)");
  command->callback([dirs, out, title, overlay] {
    if (out->empty() && dirs->size() > 1)
      throw UsageError("report: several RUNDIRs need --out FOLDER");
    write_report_for(*dirs, out->empty() ? dirs->front() + "/report" : *out, *title, *overlay);
  });
}

}  // namespace octrain::app
