#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "commands.h"
#include "octrain/plot/gnuplot_figure.h"
#include "octrain/report/experiment.h"
#include "octrain/report/report.h"
#include "octrain/train/metrics_reader.h"
#include "octrain/util/error.h"

namespace octrain::app {
namespace {

std::vector<nlohmann::json> diagnostics_records(const std::string& run_dir) {
  const std::string path = run_dir + "/metrics.jsonl";
  if (!std::filesystem::exists(path))
    throw UsageError(fmt::format("plot: {} not found; is {} a run directory?", path, run_dir));
  std::vector<nlohmann::json> records;
  for (auto& record : train::read_metrics(path))
    if (record.at("kind") == "diagnostics") records.push_back(std::move(record));
  if (records.empty())
    throw UsageError(fmt::format(
        "plot: {} has no diagnostics records; train with --diagnostics N to log them", path));
  return records;
}

// A validated array of numbers (null: a non-finite norm, written by json as null); absent → empty.
std::vector<double> norms_of(const nlohmann::json& record, const char* key) {
  std::vector<double> out;
  if (auto it = record.find(key); it != record.end())
    for (const auto& v : *it) out.push_back(v.is_number() ? v.get<double>() : NAN);
  return out;
}

double log10_or_nan(double v) {
  return v > 0 ? std::log10(v) : NAN;
}

// ‖p_t‖ over depth (t) and training time (step): the gradient-vanishing picture.
void plot_diagnostics(const std::string& run_dir, const std::string& out) {
  const auto records = diagnostics_records(run_dir);
  std::vector<std::vector<double>> image, profile;
  for (const auto& r : records) {
    const auto norms = norms_of(r, "costate_norm");
    for (size_t t = 0; t < norms.size(); ++t)
      image.push_back({r.at("step").get<double>(), double(t), log10_or_nan(norms[t])});
    image.emplace_back();
  }
  // Profiles at the first, middle and last logged step.
  const size_t picks[] = {0, records.size() / 2, records.size() - 1};
  plot::GnuplotFigure profile_figure("costate_profile", 800, 520);
  std::string plot_line = "plot ";
  for (size_t k = 0; k < 3; ++k) {
    if (k > 0 && picks[k] == picks[k - 1]) continue;
    const auto& r = records[picks[k]];
    const auto norms = norms_of(r, "costate_norm");
    const auto updates = norms_of(r, "update_norm");
    std::vector<std::vector<double>> rows;
    for (size_t t = 0; t < norms.size(); ++t)
      rows.push_back({double(t), norms[t], t < updates.size() ? updates[t] : NAN});
    const auto step = r.at("step").get<int64_t>();
    const auto file = profile_figure.table(fmt::format("step{}", step),
                                           {"t", "costate_norm", "update_norm"}, rows);
    plot_line += fmt::format(
        "{}{} using 1:2 with linespoints lw 2 lc {} title '‖p_t‖, step {}', "
        "{} using 1:($3 > 0 ? $3 : NaN) with points pt 6 lc {} title 'update norm, step {}'",
        plot_line.size() > 5 ? ", " : "", file, k + 1, step, file, k + 1, step);
  }
  plot::GnuplotFigure heatmap("costate_norms", 900, 560);
  const auto image_file = heatmap.table("log10", {"step", "t", "log10_costate_norm"}, image);
  heatmap.command("set title 'co-state norms log_{10} ‖p_t‖ over depth and training'")
      .command("set xlabel 'training step'")
      .command("set ylabel 'stage t (0 = input, T = output)'")
      .command("set cblabel 'log_{10} ‖p_t‖'")
      .command("set palette rgb 33,13,10")
      .command("plot " + image_file + " using 1:2:3 with image notitle");
  profile_figure.command("set title 'co-state norm ‖p_t‖ across depth'")
      .command("set xlabel 'stage t'")
      .command("set ylabel 'norm'")
      .command("set logscale y")
      .command("set key outside bottom center horizontal")
      .command(plot_line);
  const auto a = heatmap.render(out);
  const auto b = profile_figure.render(out);
  fmt::print("{} diagnostics records: wrote {} and {}\n", records.size(), a, b);
}

// Training loss, test loss and test accuracy against iteration and training time.
void plot_metrics(const std::string& run_dir, const std::string& out) {
  const auto experiment = report::load_experiment(run_dir);
  const auto figures = report::write_metric_figures(experiment, "run", out);
  std::vector<std::string> paths;
  for (const auto& f : figures) paths.push_back(f.svg);
  fmt::print("wrote {}\n", fmt::join(paths, ", "));
}

}  // namespace

void add_plot_command(CLI::App& app) {
  auto* command = app.add_subcommand("plot", "Draw a run's logged figures with gnuplot");
  command->footer(
      "Example:\n"
      "  octrain plot runs/wine                 (loss and accuracy: runs/wine/plots/run-*.svg)\n"
      "  octrain train -d digits -m mlp:64-64-64-64-64-10:tanh --diagnostics 5 -o runs/diag\n"
      "  octrain plot runs/diag --diagnostics   (also runs/diag/plots/costate_*.svg)");
  auto run_dir = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto diagnostics = std::make_shared<bool>(false);
  command->add_option("RUNDIR", *run_dir, "run directory")->type_name("DIR")->required();
  command->add_flag("--diagnostics", *diagnostics,
                    "also the co-state norms ‖p_t‖ over depth and time (needs train "
                    "--diagnostics N)");
  command->add_option("--out,-o", *out, "output folder (default RUNDIR/plots)")->type_name("DIR");
  command->callback([run_dir, out, diagnostics] {
    const std::string dir = out->empty() ? *run_dir + "/plots" : *out;
    if (*diagnostics) plot_diagnostics(*run_dir, dir);  // first: it checks the records exist
    plot_metrics(*run_dir, dir);
  });
}

}  // namespace octrain::app
