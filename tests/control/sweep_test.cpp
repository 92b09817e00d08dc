// The stage-by-stage sweep against libtorch autograd on whole networks.
#include <gtest/gtest.h>
#include <torch/types.h>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"

namespace octrain::control {
namespace {

struct SweepCase {
  std::string label;
  std::string spec;
  Shape input;
  std::string loss;
  int64_t classes;
};

// gtest prints parameters with this instead of a byte dump.
std::ostream& operator<<(std::ostream& out, const SweepCase& c) {
  return out << c.label;
}

class SweepTest : public ::testing::TestWithParam<SweepCase> {};

TEST_P(SweepTest, CostatesAndHamiltonianGradientsEqualAutograd) {
  const auto& c = GetParam();
  torch::manual_seed(3);
  auto net = build_network(c.spec, c.input);
  net->to(torch::kFloat64);
  net->set_running_cost({0.01, 0.0});
  const int64_t S = 5;
  Shape batch = c.input;
  batch.insert(batch.begin(), S);
  const auto x0 = torch::randn(batch, torch::kFloat64);
  const int64_t out_dim = net->output_shape()[0];
  const auto loss = make_terminal_loss(c.loss, c.classes, out_dim);
  const auto y = c.classes > 0 ? torch::randint(c.classes, {S}, torch::kLong)
                               : torch::randn({S, out_dim}, torch::kFloat64);

  // Reference: one autograd graph through the whole network; J = mean Φ + Σ L_t.
  std::vector<torch::Tensor> states{x0.clone().requires_grad_(true)};
  for (size_t t = 0; t < net->size(); ++t) {
    auto next = net->stage(t).forward(states.back());
    next.retain_grad();
    states.push_back(next);
  }
  auto J = loss->evaluate(states.back(), y, false).value;
  for (auto& theta : net->controls()) J = J + 0.005 * theta.pow(2).sum();
  J.backward();

  // The same batch through rollout + sweep (BatchNorm saw the batch once more: same statistics).
  auto trajectory = net->rollout(x0);
  net->sweep(trajectory, *loss, y, /*need_initial_costate=*/true);
  EXPECT_NEAR(trajectory.terminal_loss.item<double>() + trajectory.running_cost, J.item<double>(),
              1e-10);
  for (size_t t = 0; t <= net->size(); ++t) {
    ASSERT_TRUE(trajectory.costates[t].defined()) << "p_" << t;
    EXPECT_TRUE(torch::allclose(trajectory.costates[t], -states[t].grad(), 1e-8, 1e-10))
        << "p_" << t;
  }
  for (size_t t = 0; t < net->size(); ++t) {
    auto controls = net->stage(t).controls();
    ASSERT_EQ(trajectory.hamiltonian_gradients[t].size(), controls.size());
    for (size_t i = 0; i < controls.size(); ++i) {
      EXPECT_TRUE(
          torch::allclose(trajectory.hamiltonian_gradients[t][i], -controls[i].grad(), 1e-8, 1e-10))
          << "stage " << t << " (" << net->stage(t).describe() << ") control " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Networks, SweepTest,
    ::testing::Values(
        SweepCase{"mlp_ce", "mlp:6-8-7-4:tanh", {6}, "cross-entropy", 4},
        SweepCase{"mlp_relu_bn_hinge", "mlp:6-8-8-3:relu:bn=true", {6}, "squared-hinge", 3},
        SweepCase{"resmlp_mse", "resmlp:3-5x3-2:tanh:delta=0.25", {3}, "mse", 0},
        SweepCase{"emsa_toy", "resmlp:1-5x4-1:tanh:delta=0.25:io=fixed", {1}, "mse", 0},
        SweepCase{"mlp_sigmoid_mmc", "mlp:4-6-6-5:sigmoid", {4}, "mmc:scale=3", 4},
        SweepCase{"cnn",
                  "cnn:conv3x3-maxpool2-res3x3-bn-chmean-fc5-3:softplus",
                  {2, 6, 6},
                  "cross-entropy",
                  3},
        SweepCase{"cnn_image_mlp", "mlp:18-5-3:relu", {2, 3, 3}, "cross-entropy", 3}),
    [](const auto& info) { return info.param.label; });

TEST(Sweep, InitialCostateIsSkippedUnlessRequested) {
  torch::manual_seed(1);
  auto net = build_network("mlp:4-3-2", {4});
  CrossEntropyLoss loss;
  auto trajectory = net->rollout(torch::randn({2, 4}));
  net->sweep(trajectory, loss, torch::tensor({0, 1}));
  EXPECT_FALSE(trajectory.costates[0].defined());
  EXPECT_TRUE(trajectory.costates[1].defined());
}

TEST(Sweep, RolloutWithoutGraphsStillSweeps) {
  torch::manual_seed(1);
  auto net = build_network("cnn:conv2x3-avgpool2-3", {1, 4, 4});
  CrossEntropyLoss loss;
  const auto x = torch::randn({2, 1, 4, 4});
  auto recorded = net->rollout(x, true);
  auto plain = net->rollout(x, false);
  net->sweep(recorded, loss, torch::tensor({0, 2}));
  net->sweep(plain, loss, torch::tensor({0, 2}));
  for (size_t t = 0; t < net->size(); ++t)
    for (size_t i = 0; i < recorded.hamiltonian_gradients[t].size(); ++i)
      EXPECT_TRUE(
          torch::allclose(recorded.hamiltonian_gradients[t][i], plain.hamiltonian_gradients[t][i]));
}

}  // namespace
}  // namespace octrain::control
