// Pascanu et al.'s vanishing-gradient regulariser Ω against its closed form on a dense-sigmoid
// net (a layer's Jacobian is diag(σ'(h)) W), with ∂Ω/∂θ by central differences of that closed form,
// and the sgd step that adds it.
#include "octrain/methods/gradient_norm_penalty.h"

#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/control/trajectory.h"
#include "octrain/methods/registry.h"

namespace octrain::methods {
namespace {

struct SigmoidNet {
  std::shared_ptr<control::Network> net;
  torch::Tensor x, y;
  control::CrossEntropyLoss loss;
  SigmoidNet() {
    torch::manual_seed(41);
    net = control::build_network("mlp:3-4-4-2:sigmoid", {3});
    net->to(torch::kFloat64);
    x = torch::randn({5, 3}, torch::kFloat64) * 2;
    y = torch::tensor({0, 1, 1, 0, 1}, torch::kLong);
  }
  control::Trajectory swept() {
    auto trajectory = net->rollout(x, true);
    net->sweep(trajectory, loss, y, false);
    return trajectory;
  }
};

// Ω from explicit layer Jacobians diag(σ'(W_k x_k + b_k)) W_k, the co-states p_2, p_4 fixed.
double closed_form_omega(control::Network& net, const torch::Tensor& x, const torch::Tensor& p2,
                         const torch::Tensor& p4) {
  torch::NoGradGuard no_grad;
  double omega = 0.0;
  auto state = x;
  for (int k = 0; k < 2; ++k) {
    const auto controls = net.stage(2 * k).controls();
    const auto& w = controls[0];
    const auto h = state.mm(w.t()) + controls[1];
    const auto s = torch::sigmoid(h);
    const auto& p = k == 0 ? p2 : p4;
    const auto carried = (p * s * (1 - s)).mm(w);  // pᵀ diag(σ') W per sample
    omega += (carried.norm(2, 1) / p.norm(2, 1) - 1).square().sum().item<double>();
    state = s;
  }
  return omega / double(x.size(0));
}

TEST(GradientNormPenalty, MatchesTheClosedFormAndItsDerivatives) {
  SigmoidNet c;
  const auto trajectory = c.swept();
  const auto penalty = gradient_norm_penalty(*c.net, trajectory);
  const auto& p2 = trajectory.costates[2];
  const auto& p4 = trajectory.costates[4];
  EXPECT_NEAR(penalty.value, closed_form_omega(*c.net, c.x, p2, p4), 1e-12);
  auto controls = c.net->controls();
  ASSERT_EQ(penalty.gradients.size(), controls.size());
  const double h = 1e-6;
  for (size_t i = 0; i < controls.size(); ++i) {
    auto flat = controls[i].detach().view({-1});
    auto ours = penalty.gradients[i].reshape({-1});
    for (int64_t j = 0; j < flat.numel(); ++j) {
      const double saved = flat[j].item<double>();
      flat[j] = saved + h;
      const double up = closed_form_omega(*c.net, c.x, p2, p4);
      flat[j] = saved - h;
      const double down = closed_form_omega(*c.net, c.x, p2, p4);
      flat[j] = saved;
      EXPECT_NEAR(ours[j].item<double>(), (up - down) / (2 * h), 1e-7)
          << "control " << i << " entry " << j;
    }
  }
  // The output layer's controls do not enter Ω (no layer after it).
  EXPECT_EQ(penalty.gradients.back().abs().max().item<double>(), 0.0);
}

// sgd:vgr=λ takes the plain SGD step on ∇J + λ∇Ω.
TEST(GradientNormPenalty, SgdAddsTheWeightedPenaltyGradient) {
  const double lr = 0.2, weight = 0.5;
  SigmoidNet plain, regularised;
  const auto penalty = gradient_norm_penalty(*regularised.net, regularised.swept());
  make_method("sgd:lr=0.2", *plain.net)->step(*plain.net, plain.loss, plain.x, plain.y);
  const auto stats = make_method("sgd:lr=0.2,vgr=0.5", *regularised.net)
                         ->step(*regularised.net, regularised.loss, regularised.x, regularised.y);
  EXPECT_NEAR(stats.extras.at("vgr_penalty"), penalty.value, 1e-12);
  const auto a = plain.net->controls(), b = regularised.net->controls();
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(torch::allclose(b[i], a[i] - lr * weight * penalty.gradients[i], 1e-12, 1e-12))
        << "control " << i;
}

}  // namespace
}  // namespace octrain::methods
