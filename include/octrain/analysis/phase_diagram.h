#pragma once

#include <vector>

#include "octrain/analysis/mean_field.h"

namespace octrain::analysis {

struct PhasePoint {
  double sigma_w2, sigma_b2;
  MeanFieldFixedPoint fixed_point;
};

// The fixed-point picture over a (σ_w², σ_b²) grid, σ_b² varying fastest; points run in parallel.
std::vector<PhasePoint> phase_diagram(const ActivationFunctions& phi,
                                      const std::vector<double>& sigma_w2,
                                      const std::vector<double>& sigma_b2,
                                      const GaussHermite& rule);

// n evenly spaced values from lo to hi inclusive (n = 1: lo).
std::vector<double> linspace(double lo, double hi, int n);

}  // namespace octrain::analysis
