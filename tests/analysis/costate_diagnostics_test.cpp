#include "octrain/analysis/costate_diagnostics.h"

#include <gtest/gtest.h>
#include <torch/utils.h>

#include "octrain/control/model_builder.h"

namespace octrain::analysis {
namespace {

// Independent truth: autograd through the whole network for p_t = −∂J/∂x_t.
TEST(CostateDiagnostics, NormsAndHamiltoniansMatchAutograd) {
  torch::manual_seed(2);
  auto network = control::build_network("mlp:6-8-7-3:tanh", {6});
  network->to(torch::kFloat64);
  network->set_running_cost({0.01, 0.0});
  const auto loss = control::make_terminal_loss("cross-entropy", 3, 3);
  const auto x = torch::randn({5, 6}, torch::kFloat64);
  const auto y = torch::tensor({0, 2, 1, 1, 0}, torch::kLong);

  const CostateDiagnostics diagnostics(*network, *loss, x, y);

  std::vector<torch::Tensor> states = {x.clone().requires_grad_(true)};
  for (size_t t = 0; t < network->size(); ++t) {
    auto next = network->stage(t).forward(states.back());
    next.retain_grad();
    states.push_back(next);
  }
  loss->evaluate(states.back(), y, false).value.backward();
  ASSERT_EQ(diagnostics.costate_norm.size(), network->size() + 1);
  ASSERT_EQ(diagnostics.hamiltonian.size(), network->size());
  for (size_t t = 0; t <= network->size(); ++t)
    EXPECT_NEAR(diagnostics.costate_norm[t], states[t].grad().norm().item<double>(), 1e-10) << t;
  for (size_t t = 0; t < network->size(); ++t) {
    const double expected = -(states[t + 1].grad() * states[t + 1]).sum().item<double>() -
                            network->stage(t).running_cost();
    EXPECT_NEAR(diagnostics.hamiltonian[t], expected, 1e-10) << t;
  }
}

TEST(CostateDiagnostics, UpdateNormIsTheDistanceTheControlsMoved) {
  torch::manual_seed(4);
  auto network = control::build_network("mlp:4-5-2:relu", {4});
  const auto loss = control::make_terminal_loss("mse", 0, 2);
  CostateDiagnostics diagnostics(*network, *loss, torch::randn({3, 4}), torch::randn({3, 2}));
  {
    torch::NoGradGuard no_grad;
    network->stage(2).controls()[0].add_(0.5);  // the output layer's W: 2 × 5 entries
  }
  diagnostics.measure_update(*network);
  ASSERT_EQ(diagnostics.update_norm.size(), 3u);
  EXPECT_DOUBLE_EQ(diagnostics.update_norm[0], 0.0);
  EXPECT_DOUBLE_EQ(diagnostics.update_norm[1], 0.0);  // the activation has no controls
  EXPECT_NEAR(diagnostics.update_norm[2], 0.5 * std::sqrt(10.0), 1e-6);
}

TEST(CostateDiagnostics, LeavesBatchNormRunningStatisticsUntouched) {
  torch::manual_seed(6);
  auto network = control::build_network("mlp:4-6-2:tanh:bn=true", {4});
  network->train();
  std::vector<torch::Tensor> before;
  for (const auto& b : network->buffers()) before.push_back(b.clone());
  ASSERT_FALSE(before.empty());
  const auto loss = control::make_terminal_loss("cross-entropy", 2, 2);
  const CostateDiagnostics diagnostics(*network, *loss, 3 * torch::randn({8, 4}),
                                       torch::randint(0, 2, {8}, torch::kLong));
  size_t i = 0;
  for (const auto& b : network->buffers()) EXPECT_TRUE(torch::equal(b, before[i++]));
}

}  // namespace
}  // namespace octrain::analysis
