#pragma once

#include <functional>
#include <vector>

namespace octrain::perf {

// Times several workloads against each other: after one warm-up call each, every repetition
// runs each workload (in an order rotated per repetition) for at least `min_seconds`, and a
// workload's time is the median over repetitions of its mean time per call. Interleaving
// spreads slow drifts of a shared machine (other jobs, frequency) over all workloads alike, so
// their ratios stay meaningful.
class InterleavedTimer {
 public:
  InterleavedTimer(int repetitions, double min_seconds)
      : repetitions_(repetitions), min_seconds_(min_seconds) {}

  // Milliseconds per call of every repetition, per workload in the order of `workloads`.
  std::vector<std::vector<double>> repetition_ms(
      const std::vector<std::function<void()>>& workloads) const;
  // The median over repetitions, per workload.
  std::vector<double> median_ms(const std::vector<std::function<void()>>& workloads) const;

 private:
  int repetitions_;
  double min_seconds_;
};

}  // namespace octrain::perf
