#include "run_flags.h"

#include <fmt/format.h>

#include "commands.h"
#include "octrain/util/error.h"

namespace octrain::app {

void RunFlags::add_to(CLI::App& command, bool with_method) {
  command
      .add_option("--config", config_file_,
                  "TOML file with any of the keys below; flags override it")
      ->type_name("FILE");
  command
      .add_option("--profile", profile_,
                  "lay the config file's [profile.NAME] table over it, e.g. quick or full")
      ->type_name("NAME");
  struct Flag {
    const char* key;
    const char* flag;
    const char* help;
    const char* type = "TEXT";  // shown in --help
  };
  static const Flag flags[] = {
      {"dataset", "--dataset,-d",
       "fashion-mnist | mnist | wine | digits | toy-sin | idx:DIR | csv:PATH | cifar10:DIR",
       "SPEC"},
      {"model", "--model,-m",
       "mlp:784-256-10[:act][:k=v] | resmlp:IN-WxD-OUT | cnn:TOKENS | FILE.toml", "SPEC"},
      {"loss", "--loss", "cross-entropy | mse | squared-hinge | mmc[:scale=S] (default by task)",
       "SPEC"},
      {"method", "--method", "NAME[:key=value,...], e.g. adam:lr=0.001 (see 'octrain methods')",
       "SPEC"},
      {"epochs", "--epochs,-e", "epochs to train (default 3)", "INT"},
      {"batch_size", "--batch-size,-b", "samples per step (default 128)", "INT"},
      {"seed", "--seed,-s", "seeds initialisation, shuffling and splits (default 0)", "INT"},
      {"data_seed", "--data-seed", "seed of the data split if it should differ from --seed", "INT"},
      {"threads", "--threads,-j",
       "compute threads (0: all cores); the same value gives the same numbers", "INT"},
      {"device", "--device", "cpu | cuda | cuda:N", "DEVICE"},
      {"weight_decay", "--weight-decay", "L2 running cost λ/2‖θ‖² on every control", "REAL"},
      {"test_fraction", "--test-fraction",
       "test share for data without an official split (default 0.2)", "REAL"},
      {"validation_fraction", "--validation-fraction",
       "validation share carved from train (default 0)", "REAL"},
      {"train_limit", "--train-limit",
       "use a seeded stratified subset of this many training samples", "INT"},
      {"test_limit", "--test-limit", "likewise for the test split", "INT"},
      {"eval_every", "--eval-every", "epochs between test evaluations (default 1)", "INT"},
      {"log_every", "--log-every", "steps between step records in metrics.jsonl (default 1)",
       "INT"},
      {"diagnostics_every", "--diagnostics",
       "every N steps log per-stage co-state norms, update norms and Hamiltonians (default 0: "
       "off)",
       "INT"},
      {"checkpoint_every", "--checkpoint-every",
       "epochs between checkpoints (default 0: every 30 s; always at the end)", "INT"},
      {"on_divergence", "--on-divergence",
       "stop | rollback (to the epoch start with a smaller step)", "POLICY"},
      {"rollback_factor", "--rollback-factor", "step-size factor per rollback (default 0.1)",
       "REAL"},
      {"max_rollbacks", "--max-rollbacks", "rollbacks before giving up (default 4)", "INT"},
      {"divergence_factor", "--divergence-factor",
       "diverged also when the smoothed training loss grows this many times past its running "
       "minimum and above its start (default 10; 0: only non-finite values)",
       "REAL"},
      {"lr_schedule", "--lr-schedule",
       "step-size factor: constant | step:EVERY:GAMMA (× GAMMA every EVERY epochs) | "
       "cosine[:MIN] | warmup:STEPS[,SCHEDULE]",
       "SCHEDULE"},
      {"keep", "--keep",
       "last | best (also keep best.pt, the epoch with the best validation metric)", "WHICH"},
      {"early_stop", "--early-stop",
       "stop after this many epochs without validation improvement (default 0: off)", "PATIENCE"},
      {"best_metric", "--best-metric",
       "what --keep best and --early-stop watch: auto (validation accuracy, else loss) | accuracy "
       "| loss",
       "METRIC"},
      {"export_format", "--export-format",
       "also write the run in community formats: deepobs (deepobs_run.json), algoperf "
       "(eval_measurements.csv) or deepobs,algoperf (docs/STANDARD_PROBLEMS.md)",
       "FORMATS"},
      {"out", "--out,-o", "run directory (default runs/<dataset>-<method>-s<seed>-<time>)", "DIR"},
  };
  for (const auto& f : flags) {
    if (!with_method && std::string(f.key) == "method") continue;
    options_[f.key] = command.add_option(f.flag, values_[f.key], f.help)->type_name(f.type);
  }
  values_["sync_bn"] = "true";
  options_["sync_bn"] = command.add_flag(
      "--sync-bn",
      "data-parallel runs: batch norm over the global batch (its statistics all-reduced) instead "
      "of each process's shard");
}

void add_progress_every_flag(CLI::App& command, double& seconds) {
  command
      .add_option("--progress-every", seconds,
                  "seconds between plain progress lines when stdout is not a terminal (default "
                  "5; 0: none)")
      ->type_name("SECONDS");
}

void check_progress_every(double seconds) {
  if (!(seconds >= 0))
    throw UsageError(fmt::format("--progress-every {}: expected seconds ≥ 0", seconds));
}

std::vector<std::string> RunFlags::given() const {
  std::vector<std::string> keys;
  for (const auto& [key, option] : options_)
    if (option->count() > 0) keys.push_back(key);
  return keys;
}

void RunFlags::apply(train::RunConfig& config) const {
  if (!profile_.empty() && config_file_.empty())
    throw UsageError("--profile " + profile_ + " needs --config FILE (profiles live in the file)");
  for (const auto& [key, option] : options_) {
    if (option->count() == 0) continue;
    if (key == "method") config.method_options.clear();
    config.set(key, values_.at(key));
  }
}

}  // namespace octrain::app
