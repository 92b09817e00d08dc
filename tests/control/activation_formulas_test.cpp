// The activation formulas (activation_formulas.h) for every activation: σ′ and σ″ against central
// finite differences in double, on the scalar path and on the tensor path; libtorch's fused
// backward kernels against the formulas; and the two paths against each other.
#include "octrain/control/activation_formulas.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include "octrain/control/activation.h"

namespace octrain::control {
namespace {

// Away from ReLU's kink; 25 is past softplus's threshold and its finite difference stays there.
const std::vector<double> kPoints = {-2.3, -0.4, 0.7, 1.9, 25.0};
constexpr double kStep = 1e-5, kTolerance = 1e-7;

TEST(ActivationFormulas, ScalarDerivativesAgreeWithFiniteDifferences) {
  for (const auto a : kActivations) {
    auto slope = [a](double z) { return formulas::slope(a, z, formulas::value(a, z)); };
    for (const double z : kPoints) {
      const double s = formulas::value(a, z);
      EXPECT_NEAR((formulas::value(a, z + kStep) - formulas::value(a, z - kStep)) / (2 * kStep),
                  formulas::slope(a, z, s), kTolerance)
          << to_string(a) << " σ′ at " << z;
      EXPECT_NEAR((slope(z + kStep) - slope(z - kStep)) / (2 * kStep), formulas::curvature(a, z, s),
                  kTolerance)
          << to_string(a) << " σ″ at " << z;
    }
  }
}

TEST(ActivationFormulas, TensorDerivativesAgreeWithFiniteDifferences) {
  const auto z = torch::tensor(kPoints, torch::kFloat64);
  for (const auto a : kActivations) {
    auto slope = [a](const torch::Tensor& x) {
      return activation_backward(a, x, apply_activation(a, x), torch::ones_like(x));
    };
    const auto first =
        (apply_activation(a, z + kStep) - apply_activation(a, z - kStep)) / (2 * kStep);
    const auto second = (slope(z + kStep) - slope(z - kStep)) / (2 * kStep);
    EXPECT_TRUE(torch::allclose(slope(z), first, 0, kTolerance)) << to_string(a);
    EXPECT_TRUE(torch::allclose(activation_second_derivative(a, z, apply_activation(a, z)), second,
                                0, kTolerance))
        << to_string(a);
  }
}

// activation_backward keeps libtorch's fused kernels (tanh, relu, sigmoid): they are p ⊙ σ′.
TEST(ActivationFormulas, FusedBackwardKernelsAreTheSlopeFormula) {
  torch::manual_seed(2);
  for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
    const auto z = torch::randn({257}, dtype) * 3;  // past one vector width, with a tail
    const auto p = torch::randn({257}, dtype);
    // A few roundings apart: the kernels may fuse 1 − s² into one multiply-add.
    const double tolerance = dtype == torch::kFloat64 ? 1e-14 : 1e-6;
    for (const auto a : kActivations) {
      const auto s = apply_activation(a, z);
      EXPECT_TRUE(torch::allclose(activation_backward(a, z, s, p), p * formulas::slope(a, z, s),
                                  tolerance, tolerance))
          << to_string(a) << " " << dtype;
    }
  }
}

TEST(ActivationFormulas, ScalarAndTensorPathsAgree) {
  const auto z = torch::tensor(kPoints, torch::kFloat64);
  for (const auto a : kActivations) {
    const auto s = apply_activation(a, z);
    const auto slope = formulas::slope(a, z, s), curvature = formulas::curvature(a, z, s);
    for (size_t i = 0; i < kPoints.size(); ++i) {
      const double x = kPoints[i], sx = formulas::value(a, x);
      EXPECT_NEAR(s[i].item<double>(), sx, 1e-15 * std::max(1.0, std::abs(sx))) << to_string(a);
      EXPECT_NEAR(slope[i].item<double>(), formulas::slope(a, x, sx), 1e-14) << to_string(a);
      EXPECT_NEAR(curvature[i].item<double>(), formulas::curvature(a, x, sx), 1e-14)
          << to_string(a);
    }
  }
}

TEST(ActivationFormulas, NamesRoundTripAndLinearIsTheIdentity) {
  for (const auto a : kActivations) EXPECT_EQ(parse_activation(to_string(a)), a);
  EXPECT_EQ(parse_activation("linear"), Activation::kIdentity);
  EXPECT_EQ(parse_activation("none"), Activation::kIdentity);
  EXPECT_EQ(parse_activation("erf"), Activation::kErf);
}

}  // namespace
}  // namespace octrain::control
