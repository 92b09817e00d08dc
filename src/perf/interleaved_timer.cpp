#include "octrain/perf/interleaved_timer.h"

#include <algorithm>
#include <chrono>

namespace octrain::perf {

std::vector<std::vector<double>> InterleavedTimer::repetition_ms(
    const std::vector<std::function<void()>>& workloads) const {
  using Clock = std::chrono::steady_clock;
  const size_t n = workloads.size();
  std::vector<int64_t> calls(n, 1);
  for (size_t i = 0; i < n; ++i) {
    // The warm-up call also sizes a repetition: enough calls to fill min_seconds.
    const auto start = Clock::now();
    workloads[i]();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    calls[i] = std::max<int64_t>(1, int64_t(min_seconds_ / std::max(seconds, 1e-9)));
  }
  std::vector<std::vector<double>> times(n);
  for (int r = 0; r < repetitions_; ++r) {
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (k + size_t(r)) % n;
      const auto start = Clock::now();
      for (int64_t c = 0; c < calls[i]; ++c) workloads[i]();
      times[i].push_back(1e3 * std::chrono::duration<double>(Clock::now() - start).count() /
                         double(calls[i]));
    }
  }
  return times;
}

std::vector<double> InterleavedTimer::median_ms(
    const std::vector<std::function<void()>>& workloads) const {
  std::vector<double> medians;
  for (auto& t : repetition_ms(workloads)) {
    std::sort(t.begin(), t.end());
    medians.push_back(t[t.size() / 2]);
  }
  return medians;
}

}  // namespace octrain::perf
