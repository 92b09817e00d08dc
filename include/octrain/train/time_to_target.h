#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace octrain::train {

// A validation target, as AlgoPerf scores optimisers: `accuracy=0.90` is reached at a validation
// accuracy ≥ 0.90, `loss=0.35` at a validation loss ≤ 0.35.
struct Target {
  std::string metric;  // accuracy | loss; empty: no target
  double value = 0;

  // "accuracy=V" or "loss=V"; anything else is a UsageError naming `where`.
  static Target parse(const std::string& text, const std::string& where = "--target");
  bool empty() const { return metric.empty(); }
  bool reached_by(const nlohmann::json& evaluation) const;
  std::string to_string() const;  // as parsed: "accuracy=0.9"
  std::string describe() const;   // "validation accuracy ≥ 0.9"
};

constexpr double kMiss = std::numeric_limits<double>::infinity();

// When one run first reached the target.
struct TargetHit {
  bool reached = false;
  double seconds = kMiss;  // training time to that evaluation: the sum of the epochs' step time
                           // (AlgoPerf's submission time; evaluations and checkpoints excluded)
  double steps = kMiss;    // global step of that evaluation
  int64_t epoch = -1;
};

// The first evaluation in a run's metrics records (its epoch-0 "evaluation", then its "epoch"
// records) whose validation figures reach the target; a miss if none does.
TargetHit time_to_target(const std::vector<nlohmann::json>& records, const Target& target);

// Several seeds' hits: the medians over all runs with a miss counted as +∞, so the median is a
// miss (kMiss) when more than half of the runs miss, and with an even count also when exactly
// half do (the median then lies between a hit and a miss).
struct TargetSummary {
  int64_t runs = 0, reached = 0;
  double median_seconds = kMiss, median_steps = kMiss;
  nlohmann::json to_json() const;  // misses as null
};
TargetSummary summarise_hits(const std::vector<TargetHit>& hits);

}  // namespace octrain::train
