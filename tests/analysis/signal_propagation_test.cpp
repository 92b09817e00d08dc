#include "octrain/analysis/signal_propagation.h"

#include <gtest/gtest.h>
#include <torch/linalg.h>
#include <torch/types.h>

#include <cmath>
#include <string>

#include "octrain/control/model_builder.h"

namespace octrain::analysis {
namespace {

std::string mlp(int width, int layers, const std::string& tail) {
  std::string spec = "mlp:" + std::to_string(width);
  for (int l = 0; l < layers; ++l) spec += "-" + std::to_string(width);
  return spec + ":" + tail;
}

// Paired inputs with ‖x‖²/N ≈ q0 and correlation ≈ c0.
std::pair<torch::Tensor, torch::Tensor> paired_inputs(int64_t batch, int64_t width, double q0,
                                                      double c0) {
  const auto u = torch::randn({batch, width}), v = torch::randn({batch, width});
  return {std::sqrt(q0) * u, std::sqrt(q0) * (c0 * u + std::sqrt(1 - c0 * c0) * v)};
}

TEST(SignalPropagation, MeasuredLengthsOfAWideNetworkFollowTheMeanFieldMaps) {
  torch::manual_seed(7);
  const GaussHermite rule(201);
  for (double sw2 : {1.0, 2.5}) {
    const int width = 2000, layers = 20, networks = 3;
    // Paired inputs whose correlation is a (the c map's job) and lengths differ (the q map's).
    const auto [x_a, x_b] = paired_inputs(16, width, 2.0, 0.6);
    // In one network all inputs' q^l share that network's fluctuation, ~√(2/N) ≈ 3% per layer
    // (inputs become correlated with depth); averaging a few networks brings it to ~2%.
    std::vector<LayerSignal> measured(size_t(layers), LayerSignal{0, 0, 0, 0});
    for (int k = 0; k < networks; ++k) {
      auto network = control::build_network(
          mlp(width, layers, "tanh:init=normal,sw2=" + std::to_string(sw2) + ",sb2=0.05"), {width});
      const auto one = measure_signal(*network, x_a, x_b);
      ASSERT_EQ(one.size(), size_t(layers));
      for (size_t l = 0; l < one.size(); ++l) {
        measured[l].q_a += one[l].q_a / networks;
        measured[l].q_b += one[l].q_b / networks;
        measured[l].c += one[l].c / networks;
      }
    }
    const MeanField field(activation_functions("tanh"), sw2, 0.05, rule);
    const auto theory =
        predict_signal(field, x_a.pow(2).mean().item<double>(), x_b.pow(2).mean().item<double>(),
                       ((x_a * x_b).mean(1) / (x_a.pow(2).mean(1) * x_b.pow(2).mean(1)).sqrt())
                           .mean()
                           .item<double>(),
                       layers);
    for (int l = 0; l < layers; ++l) {
      SCOPED_TRACE(testing::Message() << "σ_w²=" << sw2 << " layer " << l + 1);
      EXPECT_NEAR(measured[size_t(l)].q_a / theory[size_t(l)].q_a, 1.0, 0.05);
      EXPECT_NEAR(measured[size_t(l)].q_b / theory[size_t(l)].q_b, 1.0, 0.05);
      EXPECT_NEAR(measured[size_t(l)].c, theory[size_t(l)].c, 0.03);
    }
    // The two settings sit on opposite sides of the transition: correlations converge to 1
    // (ordered) or towards c* < 1 (chaotic).
    if (field.fixed_point().chi1 < 1)
      EXPECT_GT(measured.back().c, 0.95);
    else
      EXPECT_LT(measured.back().c, 0.6);
  }
}

TEST(SignalPropagation, JacobianMatchesFiniteDifferences) {
  torch::manual_seed(3);
  auto network = control::build_network("mlp:5-7-6-4:tanh:init=normal,sw2=1.5,sb2=0.1", {5});
  network->to(torch::kFloat64);
  const auto x0 = torch::randn({5}, torch::kFloat64);
  const auto J = input_output_jacobian(*network, x0, network->size());
  ASSERT_EQ(J.sizes(), (torch::IntArrayRef{4, 5}));
  const double h = 1e-6;
  for (int64_t i = 0; i < 5; ++i) {
    auto e = torch::zeros({5}, torch::kFloat64);
    e[i] = h;
    const auto column =
        (network->predict((x0 + e).unsqueeze(0)) - network->predict((x0 - e).unsqueeze(0))) /
        (2 * h);
    EXPECT_TRUE(torch::allclose(J.select(1, i), column.squeeze(0), 1e-6, 1e-8)) << "column " << i;
  }
}

TEST(SignalPropagation, OrthogonalLinearNetworkIsAnExactIsometry) {
  torch::manual_seed(5);
  auto network = control::build_network("mlp:64-64-64-64:linear:init=orthogonal,sw2=1.44", {64});
  const auto J = input_output_jacobian(*network, torch::randn({64}), network->size());
  const auto s = torch::linalg::svdvals(J, /*driver=*/{});
  // Three orthogonal layers scaled by σ_w = 1.2 each.
  EXPECT_NEAR(s.min().item<double>(), std::pow(1.2, 3), 1e-4);
  EXPECT_NEAR(s.max().item<double>(), std::pow(1.2, 3), 1e-4);
}

TEST(SignalPropagation, GaussianJacobianSpectrumMatchesTheIsometryMoments) {
  torch::manual_seed(11);
  const int width = 800, layers = 8;
  const GaussHermite rule(201);
  const MeanField field(activation_functions("tanh"), 1.2, 0.05, rule);
  // `layers` + 1 Dense stages, so `layers` Dense+tanh pairs precede the output layer.
  auto network =
      control::build_network(mlp(width, layers + 1, "tanh:init=normal,sw2=1.2,sb2=0.05"), {width});
  // An input whose first pre-activations sit at q*: σ_w² q⁰ + σ_b² = q*.
  const double q0 = (field.fixed_point_length() - 0.05) / 1.2;
  // Through the `layers` Dense+tanh pairs (the last Dense is left out): J = Π D_l W_l.
  const auto J =
      input_output_jacobian(*network, std::sqrt(q0) * torch::randn({width}), size_t(2 * layers));
  const auto lambda = torch::linalg::svdvals(J.to(torch::kFloat64), /*driver=*/{}).pow(2);
  const auto theory = field.isometry(layers, WeightDistribution::kGaussian);
  // One input and finite width: tr(JJᵀ)/N fluctuates by several percent per layer. Dropping the
  // Gaussian term of the variance would make the theory ~10× too small here.
  EXPECT_NEAR(lambda.mean().item<double>() / theory.mean, 1.0, 0.15);
  EXPECT_NEAR(lambda.var(false).item<double>() / theory.variance, 1.0, 0.4);
}

}  // namespace
}  // namespace octrain::analysis
