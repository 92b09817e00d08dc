// Curvature blocks and value recursion of residual and batch-norm stages, against brute force:
// autograd on the stage's own forward, per-sample losses, explicit Kronecker products.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/linalg.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>

#include "octrain/control/activation.h"
#include "octrain/control/batch_norm.h"
#include "octrain/control/dense.h"
#include "octrain/control/network.h"
#include "octrain/control/residual.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/elementwise_curvature.h"
#include "octrain/methods/layer_maps.h"
#include "octrain/methods/registry.h"
#include "octrain/methods/stage_curvature.h"
#include "octrain/methods/value_model.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {

using control::Activation;
constexpr auto kDouble = torch::kFloat64;

std::shared_ptr<control::Network> residual_bn_net() {
  auto net = std::make_shared<control::Network>(control::Shape{5});
  net->append(std::make_shared<control::DenseStage>(5, 4));
  net->append(std::make_shared<control::ActivationStage>(Activation::kTanh));
  net->append(std::make_shared<control::ResidualStage>(std::make_shared<control::DenseStage>(4, 4),
                                                       Activation::kTanh, 0.5));
  net->append(std::make_shared<control::BatchNormStage>(4));
  net->append(std::make_shared<control::DenseStage>(4, 3));
  net->to(kDouble);
  return net;
}

// Per-sample cross-entropy φ_s of logits [B, K].
torch::Tensor per_sample_cross_entropy(const torch::Tensor& logits, const torch::Tensor& y) {
  return logits.logsumexp(1) - logits.gather(1, y.unsqueeze(1)).squeeze(1);
}

torch::Tensor damped_kron_inverse(const torch::Tensor& A, const torch::Tensor& G, double lambda) {
  const double pi =
      std::sqrt((A.trace().item<double>() / A.size(0)) / (G.trace().item<double>() / G.size(0)));
  const auto Ad = A + pi * std::sqrt(lambda) * torch::eye(A.size(0), kDouble);
  const auto Gd = G + std::sqrt(lambda) / pi * torch::eye(G.size(0), kDouble);
  return torch::linalg::inv(torch::kron(Gd, Ad));
}

torch::Tensor with_ones(const torch::Tensor& x) {
  return torch::cat({x, torch::ones({x.size(0), 1}, kDouble)}, 1);
}

// kfac on dense → tanh → residual(dense, tanh, δ) → batch norm → dense, two steps, against K-FAC
// written out: Kronecker blocks with the residual's rows g = ∂φ_s/∂h at its inner pre-activation
// (autograd), and batch norm's diagonal Fisher from per-sample losses differentiated one by one.
TEST(StageBlocks, KfacOnResidualAndBatchNormMatchesHandWrittenLoop) {
  const double lr = 0.1, decay = 0.9, lambda = 0.01;
  const int64_t batch = 6;
  torch::manual_seed(3);
  auto ours = residual_bn_net();
  torch::manual_seed(3);
  auto ref = residual_bn_net();
  const auto x = torch::randn({batch, 5}, kDouble);
  const auto y = torch::randint(3, {batch}, torch::kLong);
  control::CrossEntropyLoss loss;
  auto method = make_method(
      "kfac:lr=0.1,decay=0.9,damping=0.01,refresh_every=1,stats_every=1,kl_clip=0", *ours);
  auto& first = static_cast<control::DenseStage&>(ref->stage(0));
  auto& residual = static_cast<control::ResidualStage&>(ref->stage(2));
  auto& inner = static_cast<control::DenseStage&>(residual.inner());
  auto& bn = static_cast<control::BatchNormStage&>(ref->stage(3));
  auto& last = static_cast<control::DenseStage&>(ref->stage(4));
  std::vector<torch::Tensor> A(3), G(3);
  torch::Tensor fisher;
  for (int step = 1; step <= 2; ++step) {
    method->step(*ours, loss, x, y);
    // Reference forward, by hand, with the layer outputs kept for their gradients.
    const auto h0 = first.forward(x);
    h0.retain_grad();
    const auto x1 = torch::tanh(h0);
    const auto h1 = inner.forward(x1);
    h1.retain_grad();
    const auto x2 = x1 + 0.5 * torch::tanh(h1);
    const auto x3 = bn.forward(x2);

    const auto h2 = last.forward(x3);
    h2.retain_grad();
    const auto phi = per_sample_cross_entropy(h2, y);
    ASSERT_NEAR(phi.mean().item<double>(), loss.evaluate(h2, y, false).value.item<double>(), 1e-12);
    phi.mean().backward({}, /*retain_graph=*/true);
    std::vector<torch::Tensor> output_grads;  // ∂φ_s/∂h, read before the per-sample passes
    for (const auto& h : {h0, h1, h2}) output_grads.push_back(h.grad() * double(batch));
    // Batch norm's per-sample gradients: each φ_s differentiated alone.
    std::vector<torch::Tensor> samples;
    for (int64_t s = 0; s < batch; ++s) {
      const auto g = torch::autograd::grad({phi[s]}, {bn.gamma, bn.beta}, {}, true);
      samples.push_back(torch::cat({g[0], g[1]}));
    }
    torch::NoGradGuard no_grad;
    const auto f_step = torch::stack(samples).square().mean(0);
    fisher = step == 1 ? f_step : decay * fisher + (1 - decay) * f_step;
    const std::vector<torch::Tensor> inputs{with_ones(x), with_ones(x1), with_ones(x3)};
    const std::vector<control::DenseStage*> layers{&first, &inner, &last};
    for (size_t l = 0; l < 3; ++l) {
      const auto& g = output_grads[l];
      const auto A_step = inputs[l].t().mm(inputs[l]) / double(batch);
      const auto G_step = g.t().mm(g) / double(batch);
      A[l] = step == 1 ? A_step : decay * A[l] + (1 - decay) * A_step;
      G[l] = step == 1 ? G_step : decay * G[l] + (1 - decay) * G_step;
      auto& stage = *layers[l];
      const auto D = torch::cat({stage.weight.grad(), stage.bias.grad().unsqueeze(1)}, 1);
      const auto direction =
          damped_kron_inverse(A[l], G[l], lambda).mv(D.flatten()).reshape(D.sizes());
      stage.weight -= lr * direction.narrow(1, 0, D.size(1) - 1);
      stage.bias -= lr * direction.select(1, D.size(1) - 1);
    }
    const auto D_bn = torch::cat({bn.gamma.grad(), bn.beta.grad()});
    const auto step_bn = D_bn / (fisher + lambda);
    bn.gamma -= lr * step_bn.narrow(0, 0, 4);
    bn.beta -= lr * step_bn.narrow(0, 4, 4);
    for (auto& theta : ref->controls()) theta.mutable_grad().zero_();
    const auto a = ours->controls(), b = ref->controls();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_TRUE(torch::allclose(a[i], b[i], 1e-9, 1e-11)) << "step " << step << " control " << i;
  }
}

// Batch norm's closed-form per-sample gradients equal the generic per-sample autograd loop, in
// training (batch statistics) and evaluation (running statistics), for features and channels.
TEST(StageBlocks, BatchNormPerSampleGradientsMatchAutograd) {
  torch::manual_seed(5);
  for (const auto& shape : {std::vector<int64_t>{7, 3}, std::vector<int64_t>{5, 3, 2, 4}}) {
    control::BatchNormStage bn(3);
    bn.to(kDouble);
    bn.gamma.data().uniform_(0.5, 1.5);
    bn.beta.data().normal_();
    bn.running_mean.normal_();
    bn.running_var.uniform_(0.5, 2.0);
    const auto x = torch::randn(shape, kDouble) * 2 + 1;
    const auto v = torch::randn(shape, kDouble);
    for (bool training : {true, false}) {
      bn.train(training);
      const auto closed = bn.per_sample_control_gradients(x, v);
      const auto running_mean = bn.running_mean.clone(), running_var = bn.running_var.clone();
      const auto generic = bn.control::Stage::per_sample_control_gradients(x, v);
      bn.running_mean.copy_(running_mean);  // the generic path's forward moved them
      bn.running_var.copy_(running_var);
      ASSERT_EQ(closed.sizes(), (std::vector<int64_t>{shape[0], 6}));
      EXPECT_TRUE(torch::allclose(closed, generic, 1e-10, 1e-12))
          << "shape dims " << shape.size() << " training " << training;
    }
  }
}

// The coupling of a residual stage y = x + δσ(h) against autograd: slope ⊙ v = (∂y/∂h)ᵀ v, and
// the layer maps with the skip give the stage's own VJP.
TEST(StageBlocks, ResidualCouplingMatchesAutograd) {
  torch::manual_seed(9);
  for (auto activation : {Activation::kTanh, Activation::kSigmoid, Activation::kSoftplus}) {
    control::ResidualStage stage(std::make_shared<control::DenseStage>(4, 4), activation, 0.3);
    stage.to(kDouble);
    const auto x = torch::randn({5, 4}, kDouble);
    const auto v = torch::randn({5, 4}, kDouble);
    const auto coupling = layer_coupling(stage, x);
    ASSERT_TRUE(coupling.skip);
    torch::Tensor h = stage.inner().forward(x).detach().requires_grad_(true);
    const auto out = x + 0.3 * control::apply_activation(activation, h);
    const auto expected = torch::autograd::grad({out}, {h}, {v})[0];
    EXPECT_TRUE(torch::allclose(coupling.to_layer(v), expected, 1e-10, 1e-12));
    const auto y = stage.forward(x);
    const auto vjp = stage.vjp(x, y, v, true, nullptr);
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::allclose(v + layer_state_vjp(stage, x, coupling.to_layer(v)), vjp.costate,
                                1e-10, 1e-12));
    EXPECT_TRUE(torch::allclose(layer_control_vjp(stage, x, coupling.to_layer(v)),
                                to_layer_matrix(stage, vjp.control_grads), 1e-10, 1e-12));
  }
}

// DDPNOpt's factored value model through one residual stage, identity curvature, against the
// stage's own per-sample Jacobians by autograd: with J_s = ∂y_s/∂x_s and q_u^s = ∂(z_s·y_s)/∂u,
//   V_x^s = J_sᵀ v_s + (J_sᵀ z_s)(z_s·(∂y_s/∂u) k̄),   k̄ = −η Q̄_u,  Q̄_u = (1/B) Σ_s ∂(v_s·y_s)/∂u,
//   z_x^s = J_sᵀ z_s √(1 − (η/B)‖q_u^s‖²),
// and the feedback Σ_s q_u^s (z_s·J_s δx_s).
TEST(StageBlocks, FactoredValueThroughResidualMatchesAutograd) {
  torch::manual_seed(13);
  const int64_t batch = 4, n = 3;
  const double lr = 0.2;
  control::ResidualStage stage(std::make_shared<control::DenseStage>(n, n), Activation::kTanh, 0.7);
  stage.to(kDouble);
  const auto x = torch::randn({batch, n}, kDouble);
  const auto y = stage.forward(x).detach();
  ValueModel next;
  next.gradient = torch::randn({batch, n}, kDouble);
  next.factor = torch::randn({batch, n}, kDouble) * 0.5;
  IdentityCurvature curvature;
  const auto coupling = layer_coupling(stage, x);
  const auto mean_gradient =
      layer_control_vjp(stage, x, coupling.to_layer(next.gradient)) / double(batch);
  LayerValueOptions options;
  options.lr = lr;
  const auto ours =
      layer_value(stage, x, coupling, next, curvature, {}, mean_gradient, options).value;
  const auto delta_x = torch::randn({batch, n}, kDouble) * 0.1;
  const auto feedback = feedback_gradient(stage, x, next, delta_x, false, {}, {}, coupling);

  // Brute force, sample by sample.
  const auto controls = stage.controls();
  auto sample_output = [&](const torch::Tensor& xs) { return stage.forward(xs.unsqueeze(0)); };
  torch::Tensor q_bar;
  std::vector<torch::Tensor> q_u(batch), jacobians(batch);
  for (int64_t s = 0; s < batch; ++s) {
    const auto xs = x[s].detach().requires_grad_(true);
    const auto ys = sample_output(xs).squeeze(0);
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < n; ++i)
      rows.push_back(torch::autograd::grad({ys[i]}, {xs}, {}, true)[0]);
    jacobians[s] = torch::stack(rows);  // [n, n]: ∂y_i/∂x_j
    auto grads = torch::autograd::grad({(ys * next.gradient[s]).sum()}, controls, {}, true);
    const auto g_v = to_layer_matrix(stage, grads);
    q_bar = s == 0 ? g_v / double(batch) : q_bar + g_v / double(batch);
    grads = torch::autograd::grad({(ys * next.factor[s]).sum()}, controls, {}, false);
    q_u[s] = to_layer_matrix(stage, grads);
  }
  torch::NoGradGuard no_grad;
  ASSERT_TRUE(torch::allclose(q_bar, mean_gradient, 1e-10, 1e-12));
  const auto k_bar = q_bar * -lr;
  auto expected_feedback = torch::zeros_like(q_bar);
  for (int64_t s = 0; s < batch; ++s) {
    const auto q_x = jacobians[s].t().mv(next.factor[s]);
    const double k_dot = (q_u[s] * k_bar).sum().item<double>();  // z_s·(∂y_s/∂u) k̄
    const auto v_x = jacobians[s].t().mv(next.gradient[s]) + q_x * k_dot;
    EXPECT_TRUE(torch::allclose(ours.gradient[s], v_x, 1e-10, 1e-12)) << "V_x sample " << s;
    const double radicand = 1 - lr / double(batch) * q_u[s].square().sum().item<double>();
    ASSERT_GT(radicand, 0);
    EXPECT_TRUE(torch::allclose(ours.factor[s], q_x * std::sqrt(radicand), 1e-10, 1e-12))
        << "factor sample " << s;
    expected_feedback += q_u[s] * next.factor[s].dot(jacobians[s].mv(delta_x[s]));
  }
  EXPECT_TRUE(torch::allclose(feedback, expected_feedback, 1e-10, 1e-12));
}

// 20 steps of `spec` on one batch of [8, in] lower the loss.
void expect_descent(const std::string& spec, control::Network& net, int64_t in) {
  auto method = make_method(spec, net);
  const auto x = torch::randn({8, in}, kDouble);
  const auto y = torch::randint(3, {8}, torch::kLong);
  control::CrossEntropyLoss loss;
  const auto before = method->step(net, loss, x, y).loss;
  double after = before;
  for (int i = 0; i < 20; ++i) after = method->step(net, loss, x, y).loss;
  EXPECT_LT(after, before) << spec;
}

// DDPNOpt trains through residual stages (factored) and batch norm (open loop), and refuses
// batch norm with Kronecker curvatures and full value Hessians on residual stages with messages
// that say why.
TEST(StageBlocks, DdpnoptAcceptsResidualAndBatchNormOpenLoop) {
  torch::manual_seed(1);
  auto net = residual_bn_net();
  EXPECT_THROW(
      {
        try {
          make_method("ddpnopt:curvature=kfac", *net);
        } catch (const UsageError& e) {
          EXPECT_NE(std::string(e.what()).find("batch norm"), std::string::npos) << e.what();
          throw;
        }
      },
      UsageError);
  expect_descent("ddpnopt:lr=0.01", *net, 5);
  auto res = std::make_shared<control::Network>(control::Shape{4});
  res->append(std::make_shared<control::ResidualStage>(std::make_shared<control::DenseStage>(4, 4),
                                                       Activation::kTanh, 0.5));
  res->append(std::make_shared<control::ResidualStage>(std::make_shared<control::DenseStage>(4, 4),
                                                       Activation::kTanh, 0.5));
  res->append(std::make_shared<control::DenseStage>(4, 3));
  res->to(kDouble);
  EXPECT_THROW(make_method("ddpnopt:value_hessian=full", *res), UsageError);
  expect_descent("ddpnopt:curvature=identity,lr=0.1", *res, 4);
}

}  // namespace
}  // namespace octrain::methods
