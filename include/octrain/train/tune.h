#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "octrain/train/compare.h"

namespace octrain::train {

// A learning-rate grid: `log:LO:HI:N` (N values evenly spaced in log between LO and HI, both
// included, each rounded to 6 significant digits; DeepOBS's grid is log:1e-5:1e2:36) or a comma
// list of values. Bad text, a non-positive value or a repeat is a UsageError naming `where`.
std::vector<double> parse_lr_grid(const std::string& text, const std::string& where = "--lr-grid");

// The DeepOBS tuning protocol for one method on one problem.
struct TuneConfig {
  CompareConfig problem;  // the base run settings, target, source and profile; entries unused
  CompareEntry method;    // the method with its fixed options and run settings
  std::string lr_option = "lr";  // the option the grid sets
  std::vector<double> learning_rates;
  int64_t seeds = 10;           // reruns of the selected setting: seeds 0 … seeds-1
  std::string select = "auto";  // accuracy | loss | auto (accuracy where there is one)
};

struct TuneResult {
  std::vector<CompareRow> grid;  // one row per learning rate, seed 0
  size_t best = 0;               // index into grid and learning_rates
  double best_lr = 0;
  std::string selected_by;  // "validation accuracy" | "validation loss"
  CompareRow rerun;         // the selected setting over every seed
};

// Runs the grid with seed 0 into <out>/grid (a compare grid), selects the learning rate with
// the best final validation figure (the test split never takes part), reruns it for every seed
// into <out>/best, and writes <out>/tune.md and tune.json. Needs a validation split; a grid
// where every run diverged is a DivergenceError. `options.resume` resumes both grids.
TuneResult run_tune(const TuneConfig& config, const CompareOptions& options);

std::string tune_markdown(const TuneResult& result, const TuneConfig& config);

}  // namespace octrain::train
