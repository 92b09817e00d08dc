// L-BFGS on problems with known minimisers.
#include "octrain/methods/lbfgs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace octrain::methods {
namespace {

// F(θ) = ½ θᵀAθ − bᵀθ with A = diag(1..n) + 0.1·(ones), minimiser A⁻¹b solved by hand below.
double quadratic(const std::vector<double>& theta, std::vector<double>& gradient,
                 const std::vector<double>& b) {
  const size_t n = theta.size();
  double sum = 0.0;
  for (double v : theta) sum += v;
  double value = 0.0;
  for (size_t i = 0; i < n; ++i) {
    gradient[i] = double(i + 1) * theta[i] + 0.1 * sum - b[i];
    value += 0.5 * theta[i] * (double(i + 1) * theta[i] + 0.1 * sum) - b[i] * theta[i];
  }
  return value;
}

TEST(Lbfgs, QuadraticReachesTheClosedFormMinimiser) {
  const std::vector<double> b = {1.0, -2.0, 0.5, 3.0, -1.0};
  // A = D + 0.1·11ᵀ, so A⁻¹b = D⁻¹b − D⁻¹1 · 0.1·(1ᵀD⁻¹b)/(1 + 0.1·1ᵀD⁻¹1) (Sherman–Morrison).
  double d_inv_b = 0.0, d_inv_1 = 0.0;
  for (size_t i = 0; i < b.size(); ++i)
    d_inv_b += b[i] / double(i + 1), d_inv_1 += 1.0 / double(i + 1);
  const double correction = 0.1 * d_inv_b / (1.0 + 0.1 * d_inv_1);
  std::vector<double> theta(b.size(), 0.0);
  LbfgsOptions options;
  options.max_iterations = 50;
  options.gradient_tolerance = 1e-12;
  options.value_tolerance = 0.0;
  const auto result = minimise_lbfgs(
      [&](const std::vector<double>& t, std::vector<double>& g) { return quadratic(t, g, b); },
      theta, options);
  for (size_t i = 0; i < b.size(); ++i)
    EXPECT_NEAR(theta[i], (b[i] - correction) / double(i + 1), 1e-8) << "coordinate " << i;
  EXPECT_LT(result.iterations, 50);  // stopped by the gradient tolerance
}

TEST(Lbfgs, RosenbrockConverges) {
  std::vector<double> theta = {-1.2, 1.0};
  LbfgsOptions options;
  options.max_iterations = 200;
  options.gradient_tolerance = 1e-12;
  options.value_tolerance = 0.0;
  const auto result = minimise_lbfgs(
      [](const std::vector<double>& t, std::vector<double>& g) {
        const double a = 1.0 - t[0], c = t[1] - t[0] * t[0];
        g[0] = -2.0 * a - 400.0 * t[0] * c;
        g[1] = 200.0 * c;
        return a * a + 100.0 * c * c;
      },
      theta, options);
  EXPECT_NEAR(theta[0], 1.0, 1e-5);
  EXPECT_NEAR(theta[1], 1.0, 1e-5);
  EXPECT_LT(result.value, 1e-10);
}

TEST(Lbfgs, NonFiniteTrialPointsAreNeverTaken) {
  // F = (θ − 3)², but infinite beyond θ > 2: the best reachable point is just inside the edge.
  std::vector<double> theta = {0.0};
  LbfgsOptions options;
  options.max_iterations = 30;
  const auto result = minimise_lbfgs(
      [](const std::vector<double>& t, std::vector<double>& g) {
        g[0] = 2.0 * (t[0] - 3.0);
        return t[0] > 2.0 ? std::numeric_limits<double>::infinity() : (t[0] - 3.0) * (t[0] - 3.0);
      },
      theta, options);
  EXPECT_LE(theta[0], 2.0);
  EXPECT_GT(theta[0], 1.9);
  EXPECT_TRUE(std::isfinite(result.value));
}

TEST(Lbfgs, StopsAtTheGradientAndValueTolerances) {
  auto half_square = [](const std::vector<double>& t, std::vector<double>& g) {
    g = t;
    return 0.5 * t[0] * t[0];
  };
  std::vector<double> theta = {1e-6};  // |∇F| = 1e-6 is below the default tolerance 1e-5
  EXPECT_EQ(minimise_lbfgs(half_square, theta, LbfgsOptions()).iterations, 0);
  EXPECT_EQ(theta[0], 1e-6);
  // A first step that lowers F by less than value_tolerance · max(|F|, 1) ends the search.
  theta = {1e-3};
  LbfgsOptions options;
  options.gradient_tolerance = 0.0;
  options.value_tolerance = 1e-3;
  const auto result = minimise_lbfgs(half_square, theta, options);
  EXPECT_EQ(result.iterations, 1);
}

TEST(Lbfgs, UnitStepsWithoutLineSearch) {
  // On F = ½‖θ‖² the first (scaled) step is followed by exact quasi-Newton unit steps.
  std::vector<double> theta = {0.5, -0.25};
  LbfgsOptions options;
  options.line_search = false;
  options.max_iterations = 5;
  options.gradient_tolerance = 0.0;
  minimise_lbfgs(
      [](const std::vector<double>& t, std::vector<double>& g) {
        g = t;
        return 0.5 * (t[0] * t[0] + t[1] * t[1]);
      },
      theta, options);
  EXPECT_NEAR(theta[0], 0.0, 1e-12);
  EXPECT_NEAR(theta[1], 0.0, 1e-12);
}

}  // namespace
}  // namespace octrain::methods
