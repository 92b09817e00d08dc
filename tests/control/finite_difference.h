#pragma once

#include <torch/types.h>
#include <torch/utils.h>

#include <functional>

namespace octrain::testing {

// Central finite difference of a scalar function along `direction` at `point` (double precision).
inline double directional_derivative(const std::function<double()>& value, torch::Tensor point,
                                     const torch::Tensor& direction, double eps = 1e-6) {
  torch::NoGradGuard no_grad;
  const auto saved = point.clone();
  point.add_(direction, eps);
  const double plus = value();
  point.copy_(saved);
  point.add_(direction, -eps);
  const double minus = value();
  point.copy_(saved);
  return (plus - minus) / (2 * eps);
}

}  // namespace octrain::testing
