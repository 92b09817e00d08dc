#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace octrain::train {

// Everything that defines a training run. Read from TOML (`--config`) and flags (which win),
// validated, and written back resolved as the run directory's config.toml.
struct RunConfig {
  std::string dataset = "fashion-mnist";
  std::string model = "mlp:784-256-256-10:relu";
  std::string loss;  // empty: cross-entropy for classes, mse for regression
  std::string method = "adam";
  std::map<std::string, std::string> method_options;

  int64_t epochs = 3;
  int64_t batch_size = 128;
  uint64_t seed = 0;
  int64_t data_seed = -1;  // −1: use seed
  int64_t threads = 0;     // 0: all cores (see compute_threads.h)
  std::string device = "cpu";
  double weight_decay = 0.0;  // L2 running cost on every control

  double test_fraction = 0.2;
  double validation_fraction = 0.0;
  int64_t train_limit = 0;
  int64_t test_limit = 0;

  int64_t eval_every = 1;         // epochs between test evaluations (and always the last)
  int64_t log_every = 1;          // steps between step records in metrics.jsonl
  int64_t diagnostics_every = 0;  // steps between co-state diagnostics records; 0: off
  int64_t checkpoint_every = 0;   // epochs between checkpoints; 0: after an epoch once 30 s have
                                  // passed since the last one. Always after the last epoch.
  std::string on_divergence = "stop";  // stop | rollback
  double rollback_factor = 0.1;        // step-size factor applied on each rollback
  int64_t max_rollbacks = 4;
  // Divergence also when the smoothed training loss grows this many times past its running
  // minimum (and above its start; loss_growth.h); 0: only non-finite values count.
  double divergence_factor = 10.0;

  std::string lr_schedule = "constant";  // lr_schedule.h: constant | step:E:G | cosine | warmup:N,…
  std::string keep = "last";             // last | best (also best.pt: best validation epoch)
  int64_t early_stop = 0;  // stop after this many epochs without validation improvement; 0: off
  // What "best" means for keep/early_stop: auto (validation accuracy, ties and regression by
  // loss) | accuracy | loss.
  std::string best_metric = "auto";
  // Data-parallel runs: batch norm over the global batch (all-reduced statistics) instead of
  // each process's shard.
  bool sync_bn = false;
  // The benchmark problem this run is (DeepOBS's name, e.g. fmnist_2c2d), recorded in the
  // exported run files; empty: the dataset's name.
  std::string problem;
  // Run files in the community's formats, written beside metrics.jsonl (run_exports.h): a comma
  // list of deepobs (deepobs_run.json) and algoperf (eval_measurements.csv); empty: none.
  std::string export_format;

  std::string out;  // run directory; empty: runs/<dataset>-<method>-s<seed>-<time>

  // Sets one field from text ("epochs", "5"); throws UsageError naming the key.
  void set(const std::string& key, const std::string& value);
  // Reads a TOML file: top-level keys as set(), a [method] table with `name` and its options;
  // a non-empty `profile` lays [profile.NAME] over the top level (config_profile.h).
  void merge_toml_file(const std::string& path, const std::string& profile = "");
  // Throws UsageError on inconsistent values.
  void validate() const;
  // The resolved configuration as TOML text (reads back to an identical RunConfig).
  std::string to_toml() const;
  uint64_t split_seed() const { return data_seed >= 0 ? uint64_t(data_seed) : seed; }
  // "adam:lr=0.001" — method name plus options given explicitly.
  std::string method_spec() const;

  static const std::vector<std::string>& keys();
  // The keys a resumed run may change: they leave the numbers of the steps it continues
  // unchanged (epochs, threads, device, evaluation and logging cadence, divergence policy, ...).
  static const std::vector<std::string>& resumable_keys();
  // The first setting other than the resumable ones (and `out`) in which `other` differs, as
  // "key = value" of this config (a method option as "method.key = value"); empty if none.
  std::string first_difference(const RunConfig& other) const;
};

}  // namespace octrain::train
