#include "octrain/analysis/mean_field.h"

#include <gtest/gtest.h>

#include <cmath>

#include "octrain/util/error.h"

namespace octrain::analysis {
namespace {

const GaussHermite& rule201() {
  static const GaussHermite rule(201);
  return rule;
}

// The reference tables of docs/methods/meanfield.md: tanh, 201-point Gauss–Hermite.
TEST(MeanField, TanhCriticalLineMatchesTheReferenceTable) {
  const auto& tanh = activation_functions("tanh");
  const double sb2[] = {0, 0.01, 0.05, 0.10, 0.20, 0.30, 0.50, 1.00, 2.00};
  const double critical[] = {1.000, 1.424, 1.761, 1.986, 2.285, 2.505, 2.843, 3.443, 4.266};
  for (size_t i = 0; i < std::size(sb2); ++i)
    EXPECT_NEAR(critical_sigma_w2(tanh, sb2[i], rule201()), critical[i], 1e-3) << "σ_b²=" << sb2[i];
}

TEST(MeanField, TanhFixedPointsMatchTheReferenceTable) {
  struct Row {
    double sw2, sb2, q_star, chi1, c_star, xi_q, xi_c, xi_tolerance;
  };
  // ξ is tabulated to 3 significant figures; the tolerance follows the printed precision.
  const Row rows[] = {{1.0, 0.05, 0.1936, 0.7590, 1, 1.75, 3.63, 5e-3},
                      {1.5, 0.05, 0.4180, 0.9386, 1, 1.68, 15.8, 5e-2},
                      {2.0, 0.05, 0.7218, 1.0477, 0.744, 1.39, 25.2, 5e-2},
                      {4.0, 0.05, 2.1955, 1.3424, 0.165, 0.87, 6.98, 5e-3}};
  for (const auto& r : rows) {
    const auto p = MeanField(activation_functions("tanh"), r.sw2, r.sb2, rule201()).fixed_point();
    SCOPED_TRACE(testing::Message() << "σ_w²=" << r.sw2);
    EXPECT_NEAR(p.q_star, r.q_star, 1e-3);
    EXPECT_NEAR(p.chi1, r.chi1, 1e-3);
    EXPECT_NEAR(p.c_star, r.c_star, 1e-3);
    EXPECT_NEAR(p.xi_q, r.xi_q, r.xi_tolerance);
    EXPECT_NEAR(p.xi_c, r.xi_c, r.xi_tolerance);
  }
}

TEST(MeanField, FixedPointsAreFixedByTheMaps) {
  const MeanField field(activation_functions("tanh"), 3.0, 0.3, rule201());
  const auto p = field.fixed_point();
  EXPECT_NEAR(field.length_map(p.q_star), p.q_star, 1e-12);
  EXPECT_NEAR(field.correlation_map(p.q_star, p.c_star), p.c_star, 1e-10);
  EXPECT_LT(p.c_star, 1.0);
  // Iterating the length map from far away lands on the same q*.
  double q = 10.0;
  for (int l = 0; l < 200; ++l) q = field.length_map(q);
  EXPECT_NEAR(q, p.q_star, 1e-10);
}

TEST(MeanField, ReluClosedForms) {
  const auto& relu = activation_functions("relu");
  const GaussHermite rule(200);  // even: no node on the kink
  for (double sw2 : {0.5, 1.0, 1.5, 1.9}) {
    const MeanField field(relu, sw2, 0.1, rule);
    const auto p = field.fixed_point();
    EXPECT_DOUBLE_EQ(p.chi1, sw2 / 2);
    EXPECT_NEAR(p.q_star, 0.1 / (1 - sw2 / 2), 1e-12);  // q* = σ_b² + σ_w² q*/2
    EXPECT_NEAR(p.xi_q, -1 / std::log(sw2 / 2), 1e-9);  // the length map is linear
    EXPECT_DOUBLE_EQ(p.c_star, 1.0);
  }
  EXPECT_DOUBLE_EQ(MeanField(relu, 2.0, 0.0, rule).fixed_point().chi1, 1.0);
  EXPECT_NEAR(critical_sigma_w2(relu, 0.0, rule), 2.0, 1e-9);
  EXPECT_NEAR(critical_sigma_w2(relu, 0.3, rule), 2.0, 1e-9);
  EXPECT_TRUE(std::isinf(MeanField(relu, 2.5, 0.1, rule).fixed_point_length()));
}

TEST(MeanField, ReluCorrelationMapMatchesTheArcCosineKernel) {
  // Cho & Saul (2009): E[relu(u_a) relu(u_b)] = q/(2π) (√(1−c²) + (π − arccos c) c) at equal q.
  // The kink makes Gauss–Hermite converge slowly: 200 points give errors up to ~1.3e-3 (at c = 0).
  const GaussHermite rule(200);
  const MeanField field(activation_functions("relu"), 2.0, 0.0, rule);
  for (double c : {-0.9, -0.3, 0.0, 0.4, 0.8, 0.99}) {
    const double exact = (std::sqrt(1 - c * c) + (M_PI - std::acos(c)) * c) / M_PI;
    EXPECT_NEAR(field.correlation_map(1.0, c), exact, 2e-3) << "c=" << c;
  }
}

TEST(MeanField, LinearNetworkIsometryClosedForms) {
  const MeanField field(activation_functions("linear"), 1.2, 0.0, rule201());
  const auto gaussian = field.isometry(10, WeightDistribution::kGaussian);
  const auto orthogonal = field.isometry(10, WeightDistribution::kOrthogonal);
  EXPECT_NEAR(gaussian.mean, std::pow(1.2, 10), 1e-9);
  // Products of free Marchenko–Pastur factors: the normalised variance adds up to L.
  EXPECT_NEAR(gaussian.variance, 10 * std::pow(1.2, 20), 1e-6);
  EXPECT_NEAR(orthogonal.variance, 0.0, 1e-12);
}

TEST(MeanField, EveryActivationHasAFiniteOrderedFixedPoint) {
  for (const auto& name : activation_function_names()) {
    const auto p = MeanField(activation_functions(name), 0.5, 0.1, rule201()).fixed_point();
    EXPECT_TRUE(std::isfinite(p.q_star)) << name;
    EXPECT_LT(p.chi1, 1.0) << name;
    EXPECT_DOUBLE_EQ(p.c_star, 1.0) << name;
  }
}

TEST(MeanField, DerivativesAgreeWithFiniteDifferences) {
  for (const auto& name : activation_function_names()) {
    const auto& f = activation_functions(name);
    for (double u : {-2.3, -0.4, 0.7, 1.9}) {
      const double h = 1e-5;
      EXPECT_NEAR((f.phi(u + h) - f.phi(u - h)) / (2 * h), f.dphi(u), 1e-7) << name << " " << u;
      EXPECT_NEAR((f.dphi(u + h) - f.dphi(u - h)) / (2 * h), f.d2phi(u), 1e-7) << name << " " << u;
    }
  }
}

TEST(MeanField, BadInputIsNamed) {
  EXPECT_THROW(activation_functions("swish"), UsageError);
  EXPECT_THROW(MeanField(activation_functions("tanh"), -1, 0, rule201()), UsageError);
  EXPECT_THROW(MeanField(activation_functions("tanh"), 1, std::nan(""), rule201()), UsageError);
}

}  // namespace
}  // namespace octrain::analysis
