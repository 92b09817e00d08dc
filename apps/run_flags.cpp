#include "run_flags.h"

#include "octrain/util/error.h"

namespace octrain::app {

void RunFlags::add_to(CLI::App& command, bool with_method) {
  command.add_option("--config", config_file_,
                     "TOML file with any of the keys below; flags override it");
  command.add_option("--profile", profile_,
                     "lay the config file's [profile.NAME] table over it, e.g. quick or full");
  struct Flag {
    const char* key;
    const char* flag;
    const char* help;
  };
  static const Flag flags[] = {
      {"dataset", "--dataset,-d",
       "fashion-mnist | mnist | wine | digits | toy-sin | idx:DIR | csv:PATH | cifar10:DIR"},
      {"model", "--model,-m",
       "mlp:784-256-10[:act][:k=v] | resmlp:IN-WxD-OUT | cnn:TOKENS | FILE.toml"},
      {"loss", "--loss", "cross-entropy | mse | squared-hinge | mmc[:scale=S] (default by task)"},
      {"method", "--method", "NAME[:key=value,...], e.g. adam:lr=0.001 (see 'octrain methods')"},
      {"epochs", "--epochs,-e", "epochs to train (default 3)"},
      {"batch_size", "--batch-size,-b", "samples per step (default 128)"},
      {"seed", "--seed,-s", "seeds initialisation, shuffling and splits (default 0)"},
      {"data_seed", "--data-seed", "seed of the data split if it should differ from --seed"},
      {"threads", "--threads,-j",
       "compute threads (0: all cores); the same value gives the same numbers"},
      {"device", "--device", "cpu | cuda | cuda:N"},
      {"weight_decay", "--weight-decay", "L2 running cost λ/2‖θ‖² on every control"},
      {"test_fraction", "--test-fraction",
       "test share for data without an official split (default 0.2)"},
      {"validation_fraction", "--validation-fraction",
       "validation share carved from train (default 0)"},
      {"train_limit", "--train-limit",
       "use a seeded stratified subset of this many training samples"},
      {"test_limit", "--test-limit", "likewise for the test split"},
      {"eval_every", "--eval-every", "epochs between test evaluations (default 1)"},
      {"log_every", "--log-every", "steps between step records in metrics.jsonl (default 1)"},
      {"diagnostics_every", "--diagnostics",
       "every N steps log per-stage co-state norms, update norms and Hamiltonians (default 0: "
       "off)"},
      {"checkpoint_every", "--checkpoint-every",
       "epochs between checkpoints (default 0: every 30 s; always at the end)"},
      {"on_divergence", "--on-divergence",
       "stop | rollback (to the epoch start with a smaller step)"},
      {"rollback_factor", "--rollback-factor", "step-size factor per rollback (default 0.5)"},
      {"max_rollbacks", "--max-rollbacks", "rollbacks before giving up (default 3)"},
      {"out", "--out,-o", "run directory (default runs/<dataset>-<method>-s<seed>-<time>)"},
  };
  for (const auto& f : flags) {
    if (!with_method && std::string(f.key) == "method") continue;
    options_[f.key] = command.add_option(f.flag, values_[f.key], f.help);
  }
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
