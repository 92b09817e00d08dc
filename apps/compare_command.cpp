#include <fmt/format.h>

#include "commands.h"
#include "local_workers.h"
#include "octrain/plot/gnuplot_figure.h"
#include "octrain/train/compare.h"
#include "octrain/util/error.h"
#include "run_flags.h"

namespace octrain::app {

void add_compare_command(CLI::App& app) {
  auto* command =
      app.add_subcommand("compare", "Run several methods × several seeds and summarise");
  command->footer(
      "Example:\n"
      "  octrain compare -d wine -m mlp:13-32-32-32-32-3:tanh -e 50 -b 16 --seeds 0,1,2 \\\n"
      "      --methods sgd:lr=0.1,momentum=0.9 rmsprop:lr=0.001 adam:lr=0.001 -o runs/wine\n"
      "Writes each run to OUT/<label>/seed-<s>/ (the label made a file name: adam:lr=0.001 ->\n"
      "adam_lr_0.001; OUT/experiment.json maps them), OUT/summary.md, OUT/summary.csv and the\n"
      "report OUT/report/index.html (see 'octrain report'). A non-empty OUT needs --resume.");
  auto flags = std::make_shared<RunFlags>();
  flags->add_to(*command, false);
  auto methods = std::make_shared<std::vector<std::string>>();
  auto seeds = std::make_shared<std::vector<int64_t>>();
  auto quiet = std::make_shared<bool>(false);
  auto no_report = std::make_shared<bool>(false);
  auto workers = std::make_shared<WorkerFlags>();
  workers->add_to(*command);
  command
      ->add_option("--methods", *methods,
                   "method specs NAME[:k=v,...] (or [[run]] tables in --config)")
      ->type_name("SPEC");
  command->add_option("--seeds", *seeds, "seeds, e.g. 0,1,2 (default 0)")->delimiter(',');
  command->add_flag("--quiet,-q", *quiet, "only the summary table");
  auto resume = std::make_shared<bool>(false);
  command->add_flag("--resume", *resume,
                    "continue the grid in a non-empty --out: skip finished runs, finish "
                    "interrupted ones, start missing ones");
  auto target = std::make_shared<std::string>();
  command
      ->add_option("--target", *target,
                   "report per method the time and steps to a validation target: accuracy=V or "
                   "loss=V (median over seeds; see docs/STANDARD_PROBLEMS.md)")
      ->type_name("METRIC=V");
  auto progress_every = std::make_shared<double>(5.0);
  add_progress_every_flag(*command, *progress_every);
  command->add_flag("--no-report", *no_report, "skip the report (OUT/report/, needs gnuplot)");
  command->callback(
      [flags, methods, seeds, quiet, resume, target, progress_every, no_report, workers] {
        if (workers->run_as_workers()) return;
        check_progress_every(*progress_every);
        train::CompareConfig config;
        if (!flags->config_file().empty())
          config.merge_toml_file(flags->config_file(), flags->profile());
        flags->apply(config.base);
        if (!methods->empty()) {
          config.entries.clear();
          for (const auto& spec : *methods) config.add_method_spec(spec);
        }
        if (!seeds->empty()) {
          config.seeds.clear();
          for (auto s : *seeds) {
            if (s < 0) throw UsageError(fmt::format("--seeds: {} is negative", s));
            config.seeds.push_back(uint64_t(s));
          }
        }
        if (!target->empty()) config.target = train::Target::parse(*target);
        train::CompareOptions options;
        options.quiet = *quiet || !prints_results();
        options.resume = *resume;
        options.progress_every = *progress_every;
        const auto rows = train::run_compare(config, options);
        if (!prints_results()) return;
        fmt::print("\n{}\nsummary: {}/summary.md\n", train::summary_markdown(rows, config),
                   config.base.out);
        if (*no_report) return;
        if (plot::find_gnuplot().empty())
          fmt::print("no report: gnuplot is not installed (Debian: apt-get install gnuplot-nox)\n");
        else
          write_report_for({config.base.out}, config.base.out + "/report", "");
      });
}

}  // namespace octrain::app
