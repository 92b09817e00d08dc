// MSA and E-MSA: the closed-form Hamiltonian maximiser on a linear stage, training progress on
// the E-MSA toy problem, independence of the thread count, and option validation.
#include "octrain/methods/successive_approximation.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>

#include "octrain/control/dense.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/methods/registry.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {

TEST(Msa, LinearStageReachesTheClosedFormHamiltonianMaximiser) {
  // f = Wx + b with running cost l2/2 (‖W‖² + ‖b‖²): Σ_s H = Σ_s p'·(Wx + b) − L is maximised
  // by W* = Σ_s p' xᵀ / l2 and b* = Σ_s p' / l2, with p' the co-state at the old θ.
  torch::manual_seed(7);
  control::Network net({4});
  net.append(std::make_shared<control::DenseStage>(4, 3));
  net.to(torch::kFloat64);
  const double l2 = 0.5;
  net.set_running_cost({l2, 0.0});
  const auto x = torch::randn({10, 4}, torch::kFloat64);
  const auto y = torch::randn({10, 3}, torch::kFloat64);
  control::MeanSquaredErrorLoss loss;
  auto trajectory = net.rollout(x);
  net.sweep(trajectory, loss, y);
  const auto& p_next = trajectory.costates[1];
  const auto expected_w = p_next.t().matmul(x) / l2;
  const auto expected_b = p_next.sum(0) / l2;

  auto msa = make_method("msa:iterations=100,gradient_tolerance=0,value_tolerance=0", net);
  msa->step(net, loss, x, y);
  const auto controls = net.stage(0).controls();
  EXPECT_TRUE(torch::allclose(controls[0], expected_w, 1e-7, 1e-9)) << controls[0] << "\nexpected\n"
                                                                    << expected_w;
  EXPECT_TRUE(torch::allclose(controls[1], expected_b, 1e-7, 1e-9));
}

struct Toy {
  std::shared_ptr<control::Network> net;
  torch::Tensor x, y;
  control::MeanSquaredErrorLoss loss;
};

// The E-MSA toy of docs/methods/msa.md (flat start: all controls zero), 100 points of sin.
Toy make_toy() {
  torch::manual_seed(0);
  Toy toy;
  toy.net = control::build_network("resmlp:1-5x20-1:tanh:delta=0.25:io=fixed:init=zeros", {1});
  toy.net->set_running_cost({1e-3, 0.0});
  toy.x = (2 * torch::rand({100, 1}) - 1) * M_PI;
  toy.y = torch::sin(toy.x);
  return toy;
}

TEST(Emsa, DecreasesTheToyTrainingLossAndIgnoresTheThreadCount) {
  std::vector<std::vector<torch::Tensor>> final_controls;
  for (int threads : {1, 2}) {
    auto toy = make_toy();
    auto emsa =
        make_method(fmt::format("emsa:rho=1,perturbation=0.005,threads={}", threads), *toy.net);
    double first = 0.0, last = 0.0;
    for (int it = 0; it < 50; ++it) {
      const auto stats = emsa->step(*toy.net, toy.loss, toy.x, toy.y);
      if (it == 0) first = stats.loss;
      last = stats.loss;
      EXPECT_TRUE(std::isfinite(stats.extras.at("state_residual")));
    }
    EXPECT_LT(last, 0.5 * first) << "threads " << threads;
    final_controls.push_back(toy.net->controls());
  }
  for (size_t i = 0; i < final_controls[0].size(); ++i)
    EXPECT_TRUE(torch::equal(final_controls[0][i], final_controls[1][i])) << "control " << i;
}

TEST(Emsa, ReportsPerStageStatistics) {
  auto toy = make_toy();
  auto emsa = make_method("emsa:rho=1,perturbation=0.005", *toy.net);
  const auto stats = emsa->step(*toy.net, toy.loss, toy.x, toy.y);
  for (const char* key : {"hamiltonian", "state_residual", "costate_residual", "lbfgs_iterations",
                          "lbfgs_evaluations", "stage1.state_residual", "solve_ms",
                          "stage3.solve_ms", "stage20.costate_residual", "stage1.lbfgs_iterations"})
    EXPECT_TRUE(stats.extras.count(key)) << key;
  EXPECT_GT(stats.extras.at("lbfgs_iterations"), 0.0);
}

TEST(Emsa, SolvesLeaveBatchNormRunningStatisticsAsTheRolloutSetThem) {
  // The solves evaluate each stage many times in training mode; only the step's own rollout may
  // move the running averages, exactly as for a gradient method.
  torch::manual_seed(4);
  auto net = control::build_network("mlp:4-6-3:tanh:bn=true", {4});
  torch::manual_seed(4);
  auto reference = control::build_network("mlp:4-6-3:tanh:bn=true", {4});
  const auto x = torch::randn({16, 4});
  const auto y = torch::randint(3, {16}, torch::kLong);
  control::CrossEntropyLoss loss;
  make_method("emsa:rho=1", *net)->step(*net, loss, x, y);
  reference->rollout(x);
  const auto buffers = net->buffers(), expected = reference->buffers();
  ASSERT_FALSE(buffers.empty());
  for (size_t i = 0; i < buffers.size(); ++i)
    EXPECT_TRUE(torch::equal(buffers[i], expected[i])) << "buffer " << i;
}

TEST(Emsa, ValidatesOptions) {
  auto toy = make_toy();
  EXPECT_THROW(make_method("emsa:rho=-1", *toy.net), UsageError);
  EXPECT_THROW(make_method("emsa:rho_stages=1/2", *toy.net), UsageError);  // 20 stages
  EXPECT_THROW(make_method("emsa:rho_stages=1/x", *toy.net), UsageError);
  EXPECT_THROW(make_method("msa:rho=1", *toy.net), UsageError);  // basic MSA has no penalty
  EXPECT_NO_THROW(make_method(
      "emsa:rho_stages=" +
          [] {
            std::string s = "0";
            for (int i = 1; i < 20; ++i) s += "/1";
            return s;
          }(),
      *toy.net));
}

}  // namespace
}  // namespace octrain::methods
