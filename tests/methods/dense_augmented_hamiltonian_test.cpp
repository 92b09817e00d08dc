// The closed-form F_t of dense and residual-dense stages equals the autograd one (value,
// gradient, residuals) for every activation, with and without bias and running costs.
#include "octrain/methods/dense_augmented_hamiltonian.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include "octrain/control/dense.h"
#include "octrain/control/residual.h"

namespace octrain::methods {
namespace {

std::vector<double> flat_controls(control::Stage& stage) {
  std::vector<double> out;
  for (const auto& c : stage.controls()) {
    const auto d = c.detach().to(torch::kDouble).contiguous();
    out.insert(out.end(), d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
  }
  return out;
}

void expect_same_as_autograd(control::Stage& stage, int64_t in, int64_t out,
                             FeasibilityPenalty rho) {
  stage.to(torch::kFloat64);
  const auto x = torch::randn({7, in}, torch::kFloat64);
  const auto x_next = torch::randn({7, out}, torch::kFloat64);
  const auto p = torch::randn({7, in}, torch::kFloat64);
  const auto p_next = torch::randn({7, out}, torch::kFloat64);
  const auto closed_form = DenseAugmentedHamiltonian::make(stage, x, x_next, p, p_next, rho);
  ASSERT_TRUE(closed_form);
  const AugmentedHamiltonian reference(stage, x, x_next, p, p_next, rho);

  std::vector<torch::Tensor> expected_gradients;
  FeasibilityResiduals expected_residuals, residuals;
  const double expected = reference.evaluate(&expected_gradients, &expected_residuals);
  std::vector<double> gradient;
  const double value = closed_form->evaluate(flat_controls(stage), &gradient, &residuals);
  EXPECT_NEAR(value, expected, 1e-10 * std::max(1.0, std::abs(expected)));
  EXPECT_NEAR(residuals.state, expected_residuals.state, 1e-10);
  EXPECT_NEAR(residuals.costate, expected_residuals.costate, 1e-10);
  std::vector<double> expected_flat;
  for (const auto& g : expected_gradients) {
    const auto d = g.contiguous();
    expected_flat.insert(expected_flat.end(), d.data_ptr<double>(),
                         d.data_ptr<double>() + d.numel());
  }
  ASSERT_EQ(gradient.size(), expected_flat.size());
  for (size_t i = 0; i < gradient.size(); ++i)
    EXPECT_NEAR(gradient[i], expected_flat[i], 1e-10) << "θ[" << i << "]";
}

TEST(DenseAugmentedHamiltonian, ResidualDenseMatchesAutogradForEveryActivation) {
  using control::Activation;
  for (auto activation : {Activation::kTanh, Activation::kRelu, Activation::kSigmoid,
                          Activation::kSoftplus, Activation::kIdentity}) {
    // MSA (no penalty), E-MSA, and E-MSA's first stage without its co-state term.
    for (const FeasibilityPenalty rho : {FeasibilityPenalty{0.0, 0.0}, FeasibilityPenalty{0.7, 0.7},
                                         FeasibilityPenalty{0.7, 0.0}}) {
      torch::manual_seed(11);
      control::ResidualStage stage(std::make_shared<control::DenseStage>(4, 4), activation, 0.3);
      stage.set_running_cost({0.02, 0.01});
      SCOPED_TRACE(control::to_string(activation) + ", rho " + std::to_string(rho.state) + "/" +
                   std::to_string(rho.costate));
      expect_same_as_autograd(stage, 4, 4, rho);
    }
  }
}

TEST(DenseAugmentedHamiltonian, DenseMatchesAutogradWithAndWithoutBias) {
  for (bool bias : {true, false}) {
    torch::manual_seed(12);
    control::DenseStage stage(5, 3, bias);
    stage.set_running_cost({0.05, 0.0});
    SCOPED_TRACE(bias ? "bias" : "no bias");
    expect_same_as_autograd(stage, 5, 3, {1.3, 1.3});
  }
}

TEST(DenseAugmentedHamiltonian, DeclinesOtherAndLargeStages) {
  const auto x = torch::randn({2, 100});
  control::DenseStage large(100, 100);  // 10⁴ weights: the tensor path is faster
  EXPECT_FALSE(
      DenseAugmentedHamiltonian::make(large, x, large.forward(x), x, large.forward(x), 1.0));
}

}  // namespace
}  // namespace octrain::methods
