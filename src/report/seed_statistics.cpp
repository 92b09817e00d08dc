#include "octrain/report/seed_statistics.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace octrain::report {

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd r;
  double sum = 0;
  for (double v : values)
    if (std::isfinite(v)) sum += v, ++r.n;
  if (r.n == 0) return {std::nan(""), std::nan(""), 0};
  r.mean = sum / double(r.n);
  double squares = 0;
  for (double v : values)
    if (std::isfinite(v)) squares += (v - r.mean) * (v - r.mean);
  r.std = r.n > 1 ? std::sqrt(squares / double(r.n - 1)) : 0.0;
  return r;
}

std::vector<BandPoint> seed_band(const std::vector<const SeedCurve*>& curves, size_t max_points) {
  double last_step = 0;
  for (const auto* c : curves)
    for (double s : c->step) last_step = std::max(last_step, s);
  const double width =
      std::max(1.0, std::ceil(last_step / double(std::max<size_t>(1, max_points))));
  struct Sums {
    double step = 0, seconds = 0, value = 0;
    size_t n = 0;
  };
  // bin → one entry per seed that has a finite value in it
  std::map<int64_t, std::vector<Sums>> bins;
  for (const auto* c : curves) {
    std::map<int64_t, Sums> mine;
    for (size_t i = 0; i < c->step.size(); ++i) {
      if (!std::isfinite(c->value[i])) continue;
      auto& s = mine[int64_t(std::floor((c->step[i] - 1) / width))];
      s.step += c->step[i], s.seconds += c->seconds[i], s.value += c->value[i], ++s.n;
    }
    for (const auto& [bin, s] : mine)
      bins[bin].push_back(
          {s.step / double(s.n), s.seconds / double(s.n), s.value / double(s.n), 1});
  }
  std::vector<BandPoint> band;
  for (const auto& [bin, seeds] : bins) {
    std::vector<double> steps, seconds, values;
    for (const auto& s : seeds)
      steps.push_back(s.step), seconds.push_back(s.seconds), values.push_back(s.value);
    const auto v = mean_std(values);
    band.push_back({mean_std(steps).mean, mean_std(seconds).mean, v.mean, v.std, v.n});
  }
  return band;
}

}  // namespace octrain::report
