#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "octrain/train/reference_table.h"

namespace octrain::report {

// A learning curve of one seed: value against iteration and against elapsed training time.
struct SeedCurve {
  std::vector<double> step, seconds, value;
};

// One training run (one method, one seed) as its metrics.jsonl tells it.
struct SeedRun {
  uint64_t seed = 0;
  std::string dir;
  bool diverged = false;
  double mean_step_ms = 0;             // NaN when no step was logged
  SeedCurve train_loss;                // per logged step
  SeedCurve test_loss, test_accuracy;  // per evaluation (epoch ends)
  // The run's last values: train_loss, test_loss, test_accuracy, validation_loss,
  // validation_accuracy, nonzero (fractions); absent
  // when never logged (e.g. accuracy of a regression).
  std::map<std::string, double> final_metrics;
};

struct MethodRuns {
  std::string label;   // as the compare grid named it
  std::string method;  // registry name, for matching reference values
  std::vector<SeedRun> seeds;
};

// A compare grid (or a single run) read back from its directory.
struct Experiment {
  std::string name;  // the directory's name
  std::string dir;
  nlohmann::json facts;  // dataset, model, epochs, batch_size, seeds, config, profile, ...
  std::vector<MethodRuns> methods;
  std::optional<train::Reference> reference;
};

// Reads one run directory (metrics.jsonl, config.toml). Missing files and corrupt lines are
// DataErrors naming the file and line.
SeedRun load_seed_run(const std::string& dir);

// Reads a compare directory (experiment.json, or failing that every <label>/seed-<s>/ with a
// metrics.jsonl) or a single run directory. Anything else is a UsageError saying what was
// expected.
Experiment load_experiment(const std::string& dir);

// Several experiments as one, so one set of figures overlays all their runs (`octrain report
// RUN RUN …`): the methods of all of them (a label that occurs in more than one gets its
// experiment's name appended), the facts they share, no reference.
Experiment overlay_experiments(const std::vector<Experiment>& experiments);

}  // namespace octrain::report
