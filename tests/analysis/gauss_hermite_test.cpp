#include "octrain/analysis/gauss_hermite.h"

#include <gtest/gtest.h>

#include <cmath>

#include "octrain/util/error.h"

namespace octrain::analysis {
namespace {

double double_factorial(int k) {  // (k)!! for odd k, 1 for k ≤ 0
  double r = 1;
  for (int i = k; i > 1; i -= 2) r *= i;
  return r;
}

TEST(GaussHermite, IntegratesGaussianMomentsExactlyUpToDegree2nMinus1) {
  for (int n : {1, 2, 5, 20, 200, 201}) {
    const GaussHermite rule(n);
    ASSERT_EQ(rule.size(), n);
    for (int k = 0; k <= std::min(2 * n - 1, 30); ++k) {
      const double exact = k % 2 == 1 ? 0.0 : double_factorial(k - 1);
      // Rounding scales with the size of the terms, E|z|^k ≤ k!! (odd moments cancel to 0); the
      // eigen-solver leaves the outermost nodes of large rules accurate to ~1e-10 relative.
      const double scale = std::max(1.0, double_factorial(k));
      const double got = rule.integrate([&](double z) { return std::pow(z, k); });
      EXPECT_NEAR(got, exact, 1e-9 * scale) << "n=" << n << " k=" << k;
    }
  }
}

TEST(GaussHermite, EvenRulesHaveNoNodeAtZero) {
  const GaussHermite rule(200);
  for (double z : rule.nodes) EXPECT_GT(std::abs(z), 1e-3);
  // ∫Dz 1[z > 0] = 1/2 exactly by symmetry: what ReLU's χ₁ = σ_w²/2 relies on.
  EXPECT_DOUBLE_EQ(rule.integrate([](double z) { return z > 0 ? 1.0 : 0.0; }), 0.5);
}

TEST(GaussHermite, TwoDimensionalRuleMatchesTheBivariateNormalClosedForm) {
  // E[exp(a z₁ + b z₂)] = exp((a² + b²)/2); E[z₁² z₂²] = 1.
  const GaussHermite rule(60);
  EXPECT_NEAR(rule.integrate2([](double a, double b) { return std::exp(0.7 * a - 0.4 * b); }),
              std::exp(0.5 * (0.49 + 0.16)), 1e-12);
  EXPECT_NEAR(rule.integrate2([](double a, double b) { return a * a * b * b; }), 1.0, 1e-12);
}

TEST(GaussHermite, RejectsBadSizes) {
  EXPECT_THROW(GaussHermite(0), UsageError);
  EXPECT_THROW(GaussHermite(5000), UsageError);
}

}  // namespace
}  // namespace octrain::analysis
