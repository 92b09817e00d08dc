#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "octrain/train/run_config.h"
#include "octrain/train/time_to_target.h"

namespace octrain::train {

// One method (with its options) in a comparison grid.
struct CompareEntry {
  std::string label;  // shown in the table; default: the method spec
  std::string method;
  std::map<std::string, std::string> options;
  // Run settings of this entry that differ from the grid's (batch_size, epochs, lr_schedule, ...):
  // RunConfig keys given in its [[run]] table. Keys that change the data are grid-wide.
  std::map<std::string, std::string> settings;
};

// Several methods × several seeds on one dataset and model, run in one process.
struct CompareConfig {
  RunConfig base;  // dataset, model, epochs, batch size, ...; base.out is the grid's directory
  std::vector<CompareEntry> entries;
  std::vector<uint64_t> seeds = {0};
  std::string source;          // the config file, if any, for the report
  std::string profile;         // the [profile.NAME] laid over it, if any
  std::string reference;       // "TABLE:ROW" of configs/references (reference_table.h), or empty
  std::string references_dir;  // where TABLE.toml lives; empty: <config dir>/references
  Target target;  // `target = "accuracy=0.9"`: time and steps to it per method (time_to_target.h)

  // Reads the base keys, `seeds = [...]`, `reference = "TABLE:ROW"`, `target = "METRIC=V"` and
  // one [[run]] table per method (`method` = name, optional `label`, run settings such as
  // `batch_size`, the rest its options; an array of values is a sweep), with [profile.NAME] laid
  // over the top level when `profile` is given. Flags given afterwards override.
  void merge_toml_file(const std::string& path, const std::string& profile = "");
  // Where `reference` is looked up: references_dir, else the config file's references/ folder,
  // else configs/references.
  std::string reference_directory() const;
  void add_method_spec(const std::string& spec);
};

struct CompareRow {
  std::string label;
  int64_t runs = 0, diverged = 0;
  int64_t finished = 0;   // runs that gave results (the n of the means)
  int64_t validated = 0;  // of them, runs with a validation split
  double accuracy_mean = 0, accuracy_std = 0;
  double train_loss_mean = 0, train_loss_std = 0;
  double test_loss_mean = 0;
  double step_ms_mean = 0;
  double validation_accuracy_mean = 0, validation_accuracy_std = 0;  // NaN without validation
  double validation_loss_mean = 0, validation_loss_std = 0;
  TargetSummary target;  // runs 0 without a target
};

struct CompareOptions {
  bool quiet = false;         // nothing but what the caller prints (the summary)
  std::FILE* out = stdout;    // run lines and progress
  bool resume = false;        // continue a grid in a non-empty --out (skip finished runs)
  double progress_every = 5;  // seconds between plain progress lines when not on a terminal
  int terminal = -1;          // −1: detect; 0 or 1 forces it (tests)
};

// Runs the grid: each run in <out>/<label>/seed-<s>/, then <out>/summary.md, summary.csv and
// summary.json; with DeepOBS run files, a copy of each in <out>/deepobs/ (run_exports.h).
// <out>/experiment.json, written first, lists the labels, methods, seeds and the resolved
// reference row, so a report can be drawn from the directory alone. A diverged run is counted in
// its row; the grid goes on. An unknown reference fails before the first run.
std::vector<CompareRow> run_compare(const CompareConfig& config, const CompareOptions& options);
inline std::vector<CompareRow> run_compare(const CompareConfig& config, bool quiet,
                                           std::FILE* out = stdout) {
  CompareOptions options;
  options.quiet = quiet;
  options.out = out;
  return run_compare(config, options);
}

std::string summary_markdown(const std::vector<CompareRow>& rows, const CompareConfig& config);
// The rows with their settings (summary.json): what `tune` and other tools read back.
nlohmann::json summary_json(const std::vector<CompareRow>& rows, const CompareConfig& config);

}  // namespace octrain::train
