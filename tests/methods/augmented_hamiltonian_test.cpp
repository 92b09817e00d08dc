// E-MSA's per-stage objective F_t: its gradient against central finite differences (double
// precision) for every continuous stage type, and its value against the definition.
#include "octrain/methods/augmented_hamiltonian.h"

#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "../control/finite_difference.h"
#include "octrain/control/activation.h"
#include "octrain/control/batch_norm.h"
#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/control/residual.h"

namespace octrain::methods {
namespace {

using control::Shape;
using control::Stage;

struct StageCase {
  std::string label;
  std::function<std::shared_ptr<Stage>()> make;
  Shape input;
};

std::ostream& operator<<(std::ostream& out, const StageCase& c) {
  return out << c.label;
}

std::vector<StageCase> continuous_stages() {
  using namespace control;
  return {
      {"dense", [] { return std::make_shared<DenseStage>(5, 4); }, {5}},
      {"conv2d", [] { return std::make_shared<Conv2dStage>(2, 3, 3, 1, 1); }, {2, 5, 5}},
      {"residual_dense_tanh",
       [] {
         return std::make_shared<ResidualStage>(std::make_shared<DenseStage>(4, 4),
                                                Activation::kTanh, 0.25);
       },
       {4}},
      {"residual_dense_softplus",
       [] {
         return std::make_shared<ResidualStage>(std::make_shared<DenseStage>(4, 4),
                                                Activation::kSoftplus, 0.5);
       },
       {4}},
      {"residual_conv",
       [] {
         return std::make_shared<ResidualStage>(std::make_shared<Conv2dStage>(2, 2, 3, 1, 1),
                                                Activation::kTanh, 0.5);
       },
       {2, 4, 4}},
      {"batchnorm1d", [] { return std::make_shared<BatchNormStage>(4); }, {4}},
      {"batchnorm2d", [] { return std::make_shared<BatchNormStage>(2); }, {2, 3, 3}},
  };
}

class AugmentedHamiltonianGradient : public ::testing::TestWithParam<StageCase> {};

TEST_P(AugmentedHamiltonianGradient, MatchesCentralFiniteDifferences) {
  torch::manual_seed(3);
  auto stage = GetParam().make();
  stage->to(torch::kFloat64);
  stage->train();
  stage->set_running_cost({0.01, 0.0});
  {  // Move γ, β away from 1, 0 so batch norm's controls matter in every term.
    torch::NoGradGuard no_grad;
    for (auto& c : stage->controls()) c.add_(0.3 * torch::randn_like(c));
  }
  Shape batch_shape = GetParam().input;
  batch_shape.insert(batch_shape.begin(), 6);
  const auto x = torch::randn(batch_shape, torch::kFloat64);
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = stage->forward(x);
  }
  // A trajectory that is not feasible for the current θ, so both penalties are active.
  const auto x_next = y + 0.1 * torch::randn_like(y);
  const auto p_next = torch::randn_like(y);
  const auto p = torch::randn_like(x);
  // Both penalties, and the state penalty alone (a first stage without its co-state term).
  for (const FeasibilityPenalty penalty :
       {FeasibilityPenalty{0.7, 0.7}, FeasibilityPenalty{0.7, 0}}) {
    SCOPED_TRACE("co-state penalty " + std::to_string(penalty.costate));
    const AugmentedHamiltonian objective(*stage, x, x_next, p, p_next, penalty);
    std::vector<torch::Tensor> gradients;
    objective.evaluate(&gradients);
    const auto controls = stage->controls();
    ASSERT_EQ(gradients.size(), controls.size());
    for (size_t i = 0; i < controls.size(); ++i) {
      for (int trial = 0; trial < 3; ++trial) {
        const auto direction = torch::randn_like(controls[i]);
        const double numeric = testing::directional_derivative(
            [&] { return objective.evaluate(nullptr); }, controls[i], direction);
        const double analytic = (gradients[i] * direction).sum().item<double>();
        EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
            << "control " << i << ", direction " << trial;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Stages, AugmentedHamiltonianGradient,
                         ::testing::ValuesIn(continuous_stages()),
                         [](const auto& info) { return info.param.label; });

TEST(AugmentedHamiltonian, ValueAndResidualsFollowTheDefinition) {
  torch::manual_seed(5);
  auto stage = std::make_shared<control::ResidualStage>(std::make_shared<control::DenseStage>(3, 3),
                                                        control::Activation::kTanh, 0.25);
  stage->to(torch::kFloat64);
  stage->set_running_cost({0.1, 0.0});
  const auto x = torch::randn({4, 3}, torch::kFloat64);
  const auto x_next = torch::randn({4, 3}, torch::kFloat64);
  const auto p = torch::randn({4, 3}, torch::kFloat64);
  const auto p_next = torch::randn({4, 3}, torch::kFloat64);
  const double rho = 2.0;

  // By hand: f = x + δ tanh(xKᵀ + b), ∇_x(p'·f) = p' + δ Kᵀ(tanh'·p').
  auto& dense = dynamic_cast<control::DenseStage&>(stage->inner());
  torch::NoGradGuard no_grad;
  const auto K = dense.controls()[0], b = dense.controls()[1];
  const auto a = torch::tanh(x.matmul(K.t()) + b);
  const auto f = x + 0.25 * a;
  const auto grad_x = p_next + 0.25 * ((1 - a * a) * p_next).matmul(K);
  const double state = (x_next - f).square().sum().item<double>();
  const double costate = (p - grad_x).square().sum().item<double>();
  const double l2 = 0.05 * (K.square().sum() + b.square().sum()).item<double>();
  const double expected = -(p_next * f).sum().item<double>() + l2 + 0.5 * rho * (state + costate);

  FeasibilityResiduals residuals;
  const double value =
      AugmentedHamiltonian(*stage, x, x_next, p, p_next, rho).evaluate(nullptr, &residuals);
  EXPECT_NEAR(value, expected, 1e-12);
  EXPECT_NEAR(residuals.state, state, 1e-12);
  EXPECT_NEAR(residuals.costate, costate, 1e-12);
  // Without the co-state term (the first stage's option): the state penalty alone, and the
  // residuals still both reported.
  FeasibilityResiduals state_only_residuals;
  EXPECT_NEAR(AugmentedHamiltonian(*stage, x, x_next, p, p_next, FeasibilityPenalty{rho, 0.0})
                  .evaluate(nullptr, &state_only_residuals),
              -(p_next * f).sum().item<double>() + l2 + 0.5 * rho * state, 1e-12);
  EXPECT_NEAR(state_only_residuals.costate, costate, 1e-12);
  // ρ = 0: basic MSA's objective −Σ_s H_t + L_t.
  EXPECT_NEAR(AugmentedHamiltonian(*stage, x, x_next, p, p_next, 0.0).evaluate(nullptr),
              -(p_next * f).sum().item<double>() + l2, 1e-12);
}

}  // namespace
}  // namespace octrain::methods
