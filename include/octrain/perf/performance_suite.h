#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace octrain::perf {

struct SuiteOptions {
  bool quick = false;             // fewer and shorter repetitions, fewer scaling points
  std::string filter;             // ECMAScript regex searched in "NET/METHOD"; empty: everything
  int threads = 1;                // compute threads, as `octrain train --threads`
  int repetitions = 0;            // interleaved repetitions; 0: 3 quick, 7 otherwise
  double min_seconds = 0;         // per workload per repetition; 0: 0.05 quick, 0.3 otherwise
  bool scaling = true;            // Adam's step time against batch size and depth
  std::string device = "cpu";     // cpu | cuda | cuda:N; CUDA steps are timed to completion
  std::string nets = "standard";  // standard | gpu (larger nets, a CIFAR-size CNN)
  std::vector<int64_t> batches;   // every net at these batch sizes; empty: each net's own
};

// The performance suite behind `octrain bench`: one training step of every method in the
// registry's catalogue (default options) on the standard nets, timed against Adam on the same
// net in the same run; analytic FLOPs per step and achieved GFLOP/s beside a measured sgemm peak;
// and, optionally, the scaling of Adam's step with batch size and depth. A method that refuses
// a net (a UsageError, e.g. a discrete-weight method on a real net) or fails on it is listed as
// "n/a (reason)", so new methods need no change here. Progress lines go to `progress`; the
// result is a Markdown section.
std::string run_performance_suite(const SuiteOptions& options, std::FILE* progress);

}  // namespace octrain::perf
