#include "octrain/analysis/phase_diagram.h"

#include <ATen/Parallel.h>

namespace octrain::analysis {

std::vector<PhasePoint> phase_diagram(const ActivationFunctions& phi,
                                      const std::vector<double>& sigma_w2,
                                      const std::vector<double>& sigma_b2,
                                      const GaussHermite& rule) {
  std::vector<PhasePoint> points(sigma_w2.size() * sigma_b2.size());
  at::parallel_for(0, int64_t(points.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const double w = sigma_w2[size_t(k) / sigma_b2.size()];
      const double b = sigma_b2[size_t(k) % sigma_b2.size()];
      points[size_t(k)] = {w, b, MeanField(phi, w, b, rule).fixed_point()};
    }
  });
  return points;
}

std::vector<double> linspace(double lo, double hi, int n) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(n == 1 ? lo : lo + (hi - lo) * i / (n - 1));
  return v;
}

}  // namespace octrain::analysis
