#include <fmt/format.h>

#include "commands.h"
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
      "Writes each run to OUT/<method>/seed-<s>/ and OUT/summary.md, OUT/summary.csv.");
  auto flags = std::make_shared<RunFlags>();
  flags->add_to(*command, false);
  auto methods = std::make_shared<std::vector<std::string>>();
  auto seeds = std::make_shared<std::vector<int64_t>>();
  auto quiet = std::make_shared<bool>(false);
  command->add_option("--methods", *methods,
                      "method specs NAME[:k=v,...] (or [[run]] tables in --config)");
  command->add_option("--seeds", *seeds, "seeds, e.g. 0,1,2 (default 0)")->delimiter(',');
  command->add_flag("--quiet,-q", *quiet, "only the summary table");
  command->callback([flags, methods, seeds, quiet] {
    train::CompareConfig config;
    if (!flags->config_file().empty()) config.merge_toml_file(flags->config_file());
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
    const auto rows = train::run_compare(config, *quiet);
    fmt::print("\n{}\nsummary: {}/summary.md\n", train::summary_markdown(rows, config),
               config.base.out);
  });
}

}  // namespace octrain::app
