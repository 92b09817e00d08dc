#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "commands.h"
#include "octrain/train/tune.h"
#include "octrain/util/error.h"
#include "octrain/util/file_name.h"
#include "octrain/util/options.h"
#include "run_flags.h"

namespace octrain::app {
namespace {

// DeepOBS's problem names map to the shipped configs: fmnist_2c2d ->
// configs/deepobs-fmnist-2c2d.toml.
std::string problem_config(const std::string& problem) {
  std::string stem = problem;
  std::replace(stem.begin(), stem.end(), '_', '-');
  const std::string path = "configs/deepobs-" + stem + ".toml";
  if (std::filesystem::exists(path)) return path;
  std::vector<std::string> known;
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator("configs", ec)) {
    const std::string name = f.path().filename().string();
    if (name.rfind("deepobs-", 0) == 0 && f.path().extension() == ".toml") {
      std::string p = name.substr(8, name.size() - 8 - 5);
      std::replace(p.begin(), p.end(), '-', '_');
      known.push_back(p);
    }
  }
  std::sort(known.begin(), known.end());
  throw UsageError(fmt::format(
      "--problem {}: no {} here ({}); run from the octrain source tree or pass --config FILE",
      problem, path,
      known.empty() ? "no configs/deepobs-*.toml"
                    : "known: " + fmt::format("{}", fmt::join(known, ", "))));
}

// The method to tune: a [[run]] of the config by its label (with its options and settings), or
// a method spec NAME[:k=v,...].
train::CompareEntry method_entry(const train::CompareConfig& config, const std::string& spec) {
  for (const auto& entry : config.entries)
    if (entry.label == spec) return entry;
  const auto named = parse_named_spec(spec);
  return {spec, named.name, named.options, {}};
}

}  // namespace

void add_tune_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "tune",
      "DeepOBS's protocol: a learning-rate grid on one seed, the best on validation "
      "rerun for several seeds");
  command->footer(
      "Example:\n"
      "  octrain tune --problem fmnist_2c2d --method adam --lr-grid log:1e-5:1e2:36 --seeds 10 \\\n"
      "      --target accuracy=0.9 [--profile quick]\n"
      "Runs the grid with seed 0 into OUT/grid/, selects the value with the best final\n"
      "validation accuracy (loss for regression; the test split never takes part), reruns it\n"
      "with seeds 0..N-1 into OUT/best/ and writes OUT/tune.md and OUT/tune.json. --method is a\n"
      "[[run]] label of the config (its options kept) or a method spec. Default OUT: the\n"
      "config's out + /tune-<method>. See docs/STANDARD_PROBLEMS.md.");
  auto flags = std::make_shared<RunFlags>();
  flags->add_to(*command, false);
  struct Settings {
    std::string problem, method, lr_grid, lr_option = "lr", select = "auto", target;
    int64_t seeds = 10;
    bool resume = false, quiet = false;
    double progress_every = 5.0;
  };
  auto s = std::make_shared<Settings>();
  command
      ->add_option("--problem", s->problem,
                   "a DeepOBS problem shipped in configs/ (fmnist_2c2d -> "
                   "configs/deepobs-fmnist-2c2d.toml), instead of --config")
      ->type_name("NAME");
  command->add_option("--method", s->method, "a [[run]] label of the config or NAME[:k=v,...]")
      ->type_name("SPEC")
      ->required();
  command->add_option("--lr-grid", s->lr_grid, "log:LO:HI:N or a comma list of values")
      ->type_name("GRID")
      ->required();
  command->add_option("--lr-option", s->lr_option, "the method option the grid sets (default lr)");
  command
      ->add_option("--seeds", s->seeds, "reruns of the selected value: seeds 0..N-1 (default 10)")
      ->type_name("N");
  command->add_option("--select", s->select,
                      "auto (final validation accuracy, else loss) | accuracy | loss");
  command
      ->add_option("--target", s->target,
                   "also report the time and steps to a validation target: accuracy=V | loss=V")
      ->type_name("METRIC=V");
  command->add_flag("--resume", s->resume, "continue an interrupted tune in the same OUT");
  command->add_flag("--quiet,-q", s->quiet, "only the result");
  add_progress_every_flag(*command, s->progress_every);
  command->callback([flags, s] {
    check_progress_every(s->progress_every);
    if (!s->problem.empty() && !flags->config_file().empty())
      throw UsageError("tune: give --problem NAME or --config FILE, not both");
    if (!s->problem.empty()) flags->set_config_file(problem_config(s->problem));
    train::TuneConfig config;
    if (!flags->config_file().empty())
      config.problem.merge_toml_file(flags->config_file(), flags->profile());
    const std::string config_out = config.problem.base.out;
    flags->apply(config.problem.base);
    const auto given = flags->given();
    if (std::find(given.begin(), given.end(), "out") == given.end())
      config.problem.base.out = (config_out.empty() ? std::string("runs") : config_out) + "/tune-" +
                                safe_file_name(s->method);
    config.method = method_entry(config.problem, s->method);
    config.problem.entries.clear();
    config.lr_option = s->lr_option;
    config.learning_rates = train::parse_lr_grid(s->lr_grid);
    config.seeds = s->seeds;
    config.select = s->select;
    if (!s->target.empty()) config.problem.target = train::Target::parse(s->target);
    train::CompareOptions options;
    options.quiet = s->quiet;
    options.resume = s->resume;
    options.progress_every = s->progress_every;
    const auto result = train::run_tune(config, options);
    fmt::print("\n{}\nsummary: {}/tune.md\n", train::tune_markdown(result, config),
               config.problem.base.out);
  });
}

}  // namespace octrain::app
