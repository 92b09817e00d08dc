// DDPNOpt and vanilla DDP against brute-force DDP on the batch as one augmented state
// X = (x^1 … x^B) with shared controls and J = (1/B) Σ_s φ(x_T^s) + ℓ(u): every expansion Q_X, Q_U,
// Q_XX, Q_XU, Q_UU is built by autograd on the layer maps, independently of octrain's value
// recursion. octrain keeps the value in per-sample units, V^(s) = B·∂V/∂x^s.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/linalg.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <functional>

#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/elementwise_curvature.h"
#include "octrain/methods/exact_curvature.h"
#include "octrain/methods/layer_maps.h"
#include "octrain/methods/registry.h"
#include "octrain/methods/stage_curvature.h"
#include "octrain/methods/value_model.h"

namespace octrain::methods {
namespace {

using Function = std::function<torch::Tensor(const torch::Tensor&)>;

// The Jacobian [m, n] of f: Rⁿ → Rᵐ at z, row by row in reverse mode.
torch::Tensor jacobian(const Function& f, const torch::Tensor& z) {
  torch::AutoGradMode enable(true);
  const auto zr = z.detach().requires_grad_(true);
  const auto out = f(zr).reshape({-1});
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < out.size(0); ++i) {
    auto row = torch::autograd::grad({out[i]}, {zr}, {}, true, false, true)[0];
    rows.push_back(row.defined() ? row : torch::zeros_like(zr));
  }
  return torch::stack(rows).detach();
}

// The Hessian [n, n] of a scalar f at z.
torch::Tensor hessian(const Function& f, const torch::Tensor& z) {
  return jacobian(
      [&](const torch::Tensor& zr) {
        return torch::autograd::grad({f(zr)}, {zr}, {}, true, true)[0];
      },
      z);
}

// One layer x_{t+1} = σ(W x + b) applied to every sample; u is the layer matrix [W | b] flattened.
struct Layer {
  int64_t in, out;
  bool tanh;
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& u) const {
    const auto m = u.view({out, in + 1});
    const auto h = x.mm(m.narrow(1, 0, in).t()) + m.select(1, in);
    return tanh ? torch::tanh(h) : h;
  }
};

// Second-order expansion of Q(X, u) = ℓ(u) + V(F(X, u)) around (X, u) for the quadratic model
// V(X') ≈ V_Xᵀ δX' + ½ δX'ᵀ V_XX δX' (batch units): Gauss-Newton, plus V_X·∇²F with
// `second_order`.
struct Expansion {
  torch::Tensor x, u, xx, xu, uu;
};
Expansion expand(const Layer& layer, const torch::Tensor& x, const torch::Tensor& u,
                 const torch::Tensor& v_x, const torch::Tensor& v_xx, double l2,
                 bool second_order) {
  const int64_t nx = x.numel(), nu = u.numel();
  const auto z = torch::cat({x.reshape({-1}), u});
  const Function f = [&](const torch::Tensor& zr) {
    return layer.apply(zr.narrow(0, 0, nx).view(x.sizes()), zr.narrow(0, nx, nu)).reshape({-1});
  };
  const auto jac = jacobian(f, z);
  auto g = jac.t().mv(v_x);
  auto h = jac.t().mm(v_xx).mm(jac);
  if (second_order) h += hessian([&](const torch::Tensor& zr) { return (f(zr) * v_x).sum(); }, z);
  g.narrow(0, nx, nu).add_(u, l2);
  h.narrow(0, nx, nu).narrow(1, nx, nu).diagonal().add_(l2);
  return {g.narrow(0, 0, nx), g.narrow(0, nx, nu), h.narrow(0, 0, nx).narrow(1, 0, nx),
          h.narrow(0, 0, nx).narrow(1, nx, nu), h.narrow(0, nx, nu).narrow(1, nx, nu)};
}

// Zeroes the cross-sample blocks of a [B·n, B·n] matrix.
torch::Tensor block_diagonal_part(const torch::Tensor& m, int64_t batch) {
  const int64_t n = m.size(0) / batch;
  const auto mask = torch::kron(torch::eye(batch, m.options()), torch::ones({n, n}, m.options()));
  return m * mask;
}

struct BruteForce {
  torch::Tensor v1_x, v1_xx;  // V at X_1 (batch units)
  torch::Tensor u1, u2;       // the controls after the step
};
// Which Q_UU the method stands in: `quu(expansion's Q_UU)` → the matrix it inverts.
using QuuRule = std::function<torch::Tensor(const torch::Tensor&)>;

// DDP on X for the two-layer net x_1 = tanh(W_1 x_0 + b_1), x_T = W_2 x_1 + b_2: backward pass
// with k = −Q_UU⁻¹Q_U, K = −Q_UU⁻¹Q_UX, V_X = Q_X + Q_XU k, V_XX = Q_XX + Q_XU K (cross-sample
// blocks dropped unless `keep_cross`), then the forward pass δu = k + K δX.
BruteForce brute_force_ddp(const Layer& l1, const Layer& l2, const torch::Tensor& x0,
                           const torch::Tensor& u1, const torch::Tensor& u2,
                           const control::TerminalLoss& loss, const torch::Tensor& y, double wd,
                           const QuuRule& quu, bool keep_cross, bool second_order) {
  const int64_t batch = x0.size(0);
  const auto x1 = l1.apply(x0, u1);
  const auto xt = l2.apply(x1, u2);
  const Function terminal = [&](const torch::Tensor& flat) {
    return loss.evaluate(flat.view(xt.sizes()), y, false).value;
  };
  const auto xt_flat = xt.reshape({-1});
  torch::Tensor vt_x;
  {
    torch::AutoGradMode enable(true);
    const auto r = xt_flat.detach().requires_grad_(true);
    vt_x = torch::autograd::grad({terminal(r)}, {r})[0];
  }
  const auto vt_xx = hessian(terminal, xt_flat);

  const auto q2 = expand(l2, x1, u2, vt_x, vt_xx, wd, second_order);
  const auto quu2 = quu(q2.uu);
  const auto k2 = -torch::linalg::solve(quu2, q2.u, true);
  const auto gain2 = -torch::linalg::solve(quu2, q2.xu.t(), true);  // K [nu, nx]
  BruteForce out;
  out.v1_x = q2.x + q2.xu.mv(k2);
  out.v1_xx = q2.xx + q2.xu.mm(gain2);
  if (!keep_cross) out.v1_xx = block_diagonal_part(out.v1_xx, batch);

  const auto q1 = expand(l1, x0, u1, out.v1_x, out.v1_xx, wd, second_order);
  const auto k1 = -torch::linalg::solve(quu(q1.uu), q1.u, true);
  out.u1 = u1 + k1;
  const auto delta_x1 = (l1.apply(x0, out.u1) - x1).reshape({-1});
  out.u2 = u2 + k2 + gain2.mv(delta_x1);
  return out;
}

struct BatchCase {
  std::shared_ptr<control::Network> net;
  torch::Tensor x, y;
  Layer l1{3, 4, true}, l2{4, 3, false};
  torch::Tensor u1() { return to_layer_matrix(net->stage(0), net->stage(0).controls()).flatten(); }
  torch::Tensor u2() { return to_layer_matrix(net->stage(2), net->stage(2).controls()).flatten(); }
};
constexpr int64_t kConsistencyBatch = 4;
constexpr double kWeightDecay = 0.03;

BatchCase make_case(uint64_t seed, bool regression) {
  torch::manual_seed(seed);
  BatchCase c;
  c.net = control::build_network("mlp:3-4-3:tanh", {3});
  c.net->to(torch::kFloat64);
  c.net->set_running_cost({kWeightDecay, 0});
  c.x = torch::randn({kConsistencyBatch, 3}, torch::kFloat64) * 1.5;
  c.y = regression ? torch::randn({kConsistencyBatch, 3}, torch::kFloat64)
                   : torch::tensor({0, 2, 1, 2}, torch::kLong);
  return c;
}

void expect_close(const torch::Tensor& ours, const torch::Tensor& truth, const std::string& what) {
  const double scale = truth.abs().max().item<double>();
  const double error = (ours.reshape(truth.sizes()) - truth).abs().max().item<double>();
  EXPECT_LE(error, 1e-9 * std::max(1.0, scale)) << what << ": max error " << error;
}

// octrain's value at X_1 from its own pieces: terminal value, then the last dense stage.
ValueModel octrain_value_at_x1(BatchCase& c, const control::TerminalLoss& loss, ValueHessian mode,
                               StageCurvature& curvature, const LayerValueOptions& options,
                               bool exact_curvature) {
  torch::NoGradGuard no_grad;
  const auto trajectory = c.net->rollout(c.x, false);
  auto terminal = terminal_value(loss, trajectory.output(), c.y, mode, true, nullptr);
  auto& stage = c.net->stage(2);
  const auto& x1 = trajectory.states[2];
  const auto running = to_layer_matrix(stage, stage.running_cost_gradients());
  const auto mean_gradient =
      layer_control_vjp(stage, x1, terminal.gradient) / double(kConsistencyBatch) + running;
  if (exact_curvature)
    static_cast<ExactCurvature&>(curvature).set_value_hessian(layer_inputs(stage, x1).squeeze(1),
                                                              terminal.hessian, kWeightDecay);
  const auto direction = curvature.solve(mean_gradient);
  return layer_value(stage, x1, terminal, curvature, running, direction, options).value;
}

// DDPNOpt with the identity test curvature (Q_UU = I/η) and full exact value Hessians: V at X_1
// per sample equals B × its block, and the applied step equals brute-force DDP with the cross
// blocks dropped, with and without the second-order dynamics terms.
TEST(BatchConsistency, DdpnoptMatchesBruteForceAugmentedDdp) {
  const double lr = 0.7;
  control::CrossEntropyLoss loss;
  for (bool second_order : {false, true}) {
    auto c = make_case(11, false);
    const auto truth = brute_force_ddp(
        c.l1, c.l2, c.x, c.u1(), c.u2(), loss, c.y, kWeightDecay,
        [&](const torch::Tensor& uu) { return torch::eye(uu.size(0), uu.options()) / lr; },
        /*keep_cross=*/false, second_order);
    const std::string tag = second_order ? "second order" : "Gauss-Newton";

    IdentityCurvature identity;
    LayerValueOptions options;
    options.lr = lr;
    options.second_order = second_order;
    const auto value = octrain_value_at_x1(c, loss, ValueHessian::kFull, identity, options, false);
    expect_close(value.gradient,
                 truth.v1_x.view({kConsistencyBatch, 4}) * double(kConsistencyBatch), tag + " V_x");
    const auto blocks = truth.v1_xx.view({kConsistencyBatch, 4, kConsistencyBatch, 4})
                            .diagonal(0, 0, 2)
                            .permute({2, 0, 1});
    expect_close(value.hessian, blocks * double(kConsistencyBatch), tag + " V_xx blocks");

    auto method = make_method(
        fmt::format("ddpnopt:curvature=identity,lr={},value_hessian=full,terminal_hessian=exact,"
                    "second_order={},diagnostics_every=0",
                    lr, second_order),
        *c.net);
    method->step(*c.net, loss, c.x, c.y);
    expect_close(c.u1(), truth.u1, tag + " stage 0 step");
    expect_close(c.u2(), truth.u2, tag + " stage 2 step");
  }
}

// Vanilla DDP: the exact Gauss-Newton Q_UU, the whole batch as one state (cross blocks kept) or
// its per-sample blocks.
TEST(BatchConsistency, DdpMatchesBruteForceAugmentedDdp) {
  const double lr = 0.6, damping = 0.05;
  control::CrossEntropyLoss loss;
  for (bool augmented : {true, false}) {
    auto c = make_case(12, false);
    const auto truth = brute_force_ddp(
        c.l1, c.l2, c.x, c.u1(), c.u2(), loss, c.y, kWeightDecay,
        [&](const torch::Tensor& uu) {
          return (uu + damping * torch::eye(uu.size(0), uu.options())) / lr;
        },
        augmented, false);
    const std::string tag = augmented ? "augmented" : "diagonal blocks";

    ExactCurvature exact(damping);
    LayerValueOptions options;
    options.lr = lr;
    const auto value = octrain_value_at_x1(
        c, loss, augmented ? ValueHessian::kAugmented : ValueHessian::kFull, exact, options, true);
    expect_close(value.gradient,
                 truth.v1_x.view({kConsistencyBatch, 4}) * double(kConsistencyBatch), tag + " V_x");
    const auto full_truth =
        truth.v1_xx.view({kConsistencyBatch, 4, kConsistencyBatch, 4}) * double(kConsistencyBatch);
    if (augmented)
      expect_close(value.hessian, full_truth, tag + " V_xx");
    else
      expect_close(value.hessian, full_truth.diagonal(0, 0, 2).permute({2, 0, 1}), tag + " V_xx");

    auto method = make_method(fmt::format("ddp:lr={},damping={},blocks={}", lr, damping,
                                          augmented ? "augmented" : "diagonal"),
                              *c.net);
    method->step(*c.net, loss, c.x, c.y);
    expect_close(c.u1(), truth.u1, tag + " stage 0 step");
    expect_close(c.u2(), truth.u2, tag + " stage 2 step");
  }
}

double smallest_eigenvalue(const torch::Tensor& blocks) {
  const auto m = blocks.dim() == 4 ? blocks.reshape({blocks.size(0) * blocks.size(1), -1}) : blocks;
  return torch::linalg::eigvalsh(m, "L").min().item<double>();
}

// With exact Gauss-Newton Q_uu, η = 1 and no damping, V_XX = Q_XX − Q_XU Q_UU⁻¹ Q_UX is a Schur
// complement of a positive semi-definite matrix: positive semi-definite, and so is every diagonal
// block. The literal reading (correction without 1/B) is not.
TEST(BatchConsistency, DdpValueHessianIsPositiveSemidefinite) {
  control::MeanSquaredErrorLoss loss;
  for (auto mode : {ValueHessian::kAugmented, ValueHessian::kFull}) {
    auto c = make_case(13, true);
    ExactCurvature exact(0.0);
    LayerValueOptions options;
    const auto value = octrain_value_at_x1(c, loss, mode, exact, options, true);
    EXPECT_GE(smallest_eigenvalue(value.hessian), -1e-10);
    options.value_scale = ValueScale::kLiteral;
    const auto literal = octrain_value_at_x1(c, loss, mode, exact, options, true);
    if (mode == ValueHessian::kFull) EXPECT_LT(smallest_eigenvalue(literal.hessian), -1e-3);
  }
}

// One float64 dense stage 4 → 3 with a batch of inputs x, its x̃ = [x; 1], and a rank-one value
// V = (V_h, z zᵀ) at its output, all drawn from `seed`.
struct Seeded {
  explicit Seeded(uint64_t seed) { torch::manual_seed(seed); }
};
struct OneDenseStage : Seeded {
  control::DenseStage dense{4, 3};  // initialised after the seed
  torch::Tensor x, xt, z;
  ValueModel next;
  OneDenseStage(uint64_t seed, int64_t batch) : Seeded(seed) {
    dense.to(torch::kFloat64);
    x = torch::randn({batch, 4}, torch::kFloat64);
    z = torch::randn({batch, 3}, torch::kFloat64);
    next = {torch::randn({batch, 3}, torch::kFloat64), {}, z, {}};
    xt = torch::cat({x, torch::ones({batch, 1}, torch::kFloat64)}, 1);
  }
};

// Proposition 3 with the batch scaling: on one dense stage with identity curvature the radicand
// is 1 − (η/B)‖z‖²‖x̃‖², so z_new = √(1 − (η/B)‖z‖²‖x̃‖²) Wᵀz.
TEST(BatchConsistency, FactoredRadicandCarriesOneOverB) {
  const int64_t batch = 6;
  OneDenseStage stage(21, batch);
  auto& [dense, x, xt, z, next] = stage;
  const double lr = 0.15;
  LayerValueOptions options;
  options.lr = lr;
  IdentityCurvature identity;
  torch::NoGradGuard no_grad;
  const auto result =
      layer_value(dense, x, next, identity, {}, torch::zeros({3, 5}, torch::kFloat64), options);
  const auto radicand = 1.0 - (lr / batch) * z.square().sum(1) * xt.square().sum(1);
  ASSERT_GT(radicand.min().item<double>(), 0.0);
  // The literal reading would clamp some of these samples to zero.
  ASSERT_LT((1.0 - lr * z.square().sum(1) * xt.square().sum(1)).min().item<double>(), 0.0);
  EXPECT_TRUE(torch::allclose(result.value.factor,
                              z.mm(dense.weight) * radicand.sqrt().unsqueeze(1), 1e-12));
  EXPECT_EQ(result.radicand_clamps, 0);
}

// The closed-loop gain λ_max(Ĝ) by power iteration against the eigenvalues of the explicit
// B×B matrix Ĝ_ss' = (η/B) q_u^sᵀ q_u^s' (identity curvature, dense and conv stages), to the
// iteration's 1 %.
TEST(BatchConsistency, ClosedLoopGainIsTheLargestEigenvalueOfG) {
  torch::manual_seed(22);
  const double lr = 0.4;
  control::DenseStage dense(5, 3);
  control::Conv2dStage conv(2, 3, 3, 1, 1);
  for (control::Stage* stage : std::vector<control::Stage*>{&dense, &conv}) {
    stage->to(torch::kFloat64);
    const bool is_dense = stage == &dense;
    const auto x = is_dense ? torch::randn({7, 5}, torch::kFloat64)
                            : torch::randn({7, 2, 4, 4}, torch::kFloat64);
    torch::Tensor h;
    {
      torch::NoGradGuard no_grad;
      h = stage->forward(x);
    }
    const auto z = torch::randn(h.sizes(), torch::kFloat64);
    const auto q = per_sample_control_vjp(*stage, x, z).reshape({7, -1});
    const auto g = q.mm(q.t()) * (lr / 7.0);
    const double truth = torch::linalg::eigvalsh(g, "L").max().item<double>();
    torch::NoGradGuard no_grad;
    const auto ours = closed_loop_gain(*stage, x, z, IdentityCurvature(), lr / 7.0);
    EXPECT_NEAR(ours.value, truth, 2e-2 * truth) << stage->describe();
    // Seeded with its own direction it lands on the same eigenvalue.
    const auto again =
        closed_loop_gain(*stage, x, z, IdentityCurvature(), lr / 7.0, ours.direction);
    EXPECT_NEAR(again.value, truth, 2e-2 * truth) << stage->describe();
  }
}

// The spectral cap on one dense stage with identity curvature: every sample's feedback scales by
// s = 1/λ_max(Ĝ) (λ_max to the power iteration's 1 %), and V_xx is that of the scaled policy,
// radicand 1 − (2s − s²) λ_s.
TEST(BatchConsistency, SpectralCapScalesTheFeedbackByTheClosedLoopGain) {
  const int64_t batch = 5;
  OneDenseStage stage(26, batch);
  auto& [dense, x, xt, z, next] = stage;
  LayerValueOptions options;
  options.lr = 2.0;
  options.cap = FeedbackCap::kSpectral;
  torch::NoGradGuard no_grad;
  const auto result = layer_value(dense, x, next, IdentityCurvature(), {},
                                  torch::zeros({3, 5}, torch::kFloat64), options);
  const auto g = z.mm(z.t()) * xt.mm(xt.t()) * (options.lr / batch);
  const double lambda = torch::linalg::eigvalsh(g, "L").max().item<double>();
  ASSERT_GT(lambda, 1.0);
  EXPECT_NEAR(result.gain, lambda, 2e-2 * lambda);
  const double s = 1.0 / result.gain;
  EXPECT_TRUE(torch::allclose(result.feedback_scale, torch::full({batch}, s, torch::kFloat64)));
  const auto radicand = (1.0 - (2 * s - s * s) * g.diagonal()).clamp_min(0.0);
  EXPECT_TRUE(torch::allclose(result.value.factor,
                              z.mm(dense.weight) * radicand.sqrt().unsqueeze(1), 1e-12));
  // The k̄ term of V_x scales with the feedback (the direction M⁻¹Q̄_u is zero here, so V_x is
  // g_xᵀV_h whatever the scale; with a direction the Q_xu k̄ term is s times its uncapped value).
  const auto direction = torch::randn({3, 5}, torch::kFloat64);
  const auto capped = layer_value(dense, x, next, IdentityCurvature(), {}, direction, options);
  const auto k_dot = (z * xt.mm(direction.t() * -options.lr)).sum(1) / capped.gain;
  EXPECT_TRUE(torch::allclose(capped.value.gradient,
                              (next.gradient + z * k_dot.unsqueeze(1)).mm(dense.weight), 1e-12));
}

// λ_max(Ĝ) ≤ tr(Ĝ): where the trace is at most 1 the spectral cap cannot bind, so the power
// iteration is skipped and the step is the uncapped one.
TEST(BatchConsistency, SpectralCapIsSkippedWhereTheTraceBoundsItBelowOne) {
  const int64_t batch = 5;
  OneDenseStage stage(27, batch);
  auto& [dense, x, xt, z, next] = stage;
  LayerValueOptions options;
  options.lr = 0.02;
  const double trace =
      (z.square().sum(1) * xt.square().sum(1)).sum().item<double>() * options.lr / double(batch);
  ASSERT_LT(trace, 1.0);
  torch::NoGradGuard no_grad;
  const auto direction = torch::randn({3, 5}, torch::kFloat64);
  const auto plain = layer_value(dense, x, next, IdentityCurvature(), {}, direction, options);
  options.cap = FeedbackCap::kSpectral;
  const auto capped = layer_value(dense, x, next, IdentityCurvature(), {}, direction, options);
  EXPECT_FALSE(capped.gain_direction.defined());  // no power iteration
  EXPECT_TRUE(torch::allclose(capped.value.factor, plain.value.factor, 1e-14));
  EXPECT_TRUE(torch::allclose(capped.value.gradient, plain.value.gradient, 1e-14));
  EXPECT_TRUE(torch::allclose(capped.feedback_scale, torch::ones({batch}, torch::kFloat64)));
}

// The sampled terminal factor is an unbiased rank-one estimate of the per-sample Hessian: for
// cross-entropy E[(p − e_ŷ)(p − e_ŷ)ᵀ] = diag(p) − ppᵀ (categorical draws), for MSE the Gaussian
// draw H^½ε; draws are reproducible from torch's seed.
TEST(BatchConsistency, SampledTerminalFactorIsUnbiased) {
  torch::manual_seed(23);
  const auto logits = torch::randn({3, 4}, torch::kFloat64);
  const auto labels = torch::tensor({0, 3, 1}, torch::kLong);
  const auto targets = torch::randn({3, 4}, torch::kFloat64);
  control::CrossEntropyLoss ce;
  control::MeanSquaredErrorLoss mse;
  const int draws = 20000;
  for (const control::TerminalLoss* loss : std::vector<const control::TerminalLoss*>{&ce, &mse}) {
    const auto& y = loss == &ce ? labels : targets;
    const auto truth = per_sample_hessian(*loss, logits, y);
    // All draws at once: the batch repeated `draws` times.
    const auto z = sampled_terminal_factor(*loss, logits.repeat({draws, 1}),
                                           y.repeat(y.dim() == 1 ? std::vector<int64_t>{draws}
                                                                 : std::vector<int64_t>{draws, 1}))
                       .view({draws, 3, 4});
    const auto mean = (z.unsqueeze(3) * z.unsqueeze(2)).mean(0);
    // Each entry's standard error is below 2·max|H|/√draws; allow five of them.
    const double tolerance = 5 * 2 * truth.abs().max().item<double>() / std::sqrt(double(draws));
    EXPECT_LE((mean - truth).abs().max().item<double>(), tolerance) << loss->name();
    torch::manual_seed(5);
    const auto a = sampled_terminal_factor(*loss, logits, y);
    torch::manual_seed(5);
    EXPECT_TRUE(torch::equal(a, sampled_terminal_factor(*loss, logits, y))) << loss->name();
  }
}

// Tikhonov accumulates through the backward pass (the paper's Algorithm 3): the factored
// diagonal at a dense stage's input is ε plus diag(Wᵀ diag(e) W) of the one at its output.
TEST(BatchConsistency, FactoredTikhonovAccumulates) {
  OneDenseStage stage(24, 5);
  auto& [dense, x, xt, z, next] = stage;
  const auto e = torch::rand({5, 3}, torch::kFloat64);
  next.tikhonov = e;
  LayerValueOptions options;
  options.tikhonov = 0.01;
  torch::NoGradGuard no_grad;
  const auto result = layer_value(dense, x, next, IdentityCurvature(), {},
                                  torch::zeros({3, 5}, torch::kFloat64), options);
  const auto& w = dense.weight;
  std::vector<torch::Tensor> rows;
  for (int64_t s = 0; s < 5; ++s)
    rows.push_back(torch::diag(w.t().mm(torch::diag(e[s])).mm(w)) + 0.01);
  EXPECT_TRUE(torch::allclose(result.value.tikhonov, torch::stack(rows), 1e-12));
}

// Diagnosed steps report, per trainable stage after the first, λ_max(Ĝ) and the clamped-radicand
// fraction (factored) or the negative-eigenvalue fraction of V_xx (full); other steps do not.
TEST(BatchConsistency, DiagnosedStepsReportGainAndNegativeFractions) {
  control::CrossEntropyLoss loss;
  for (const char* mode : {"factored", "full"}) {
    auto c = make_case(25, false);
    auto method = make_method(
        fmt::format("ddpnopt:curvature=identity,lr=0.5,value_hessian={},diagnostics_every=2", mode),
        *c.net);
    const auto first = method->step(*c.net, loss, c.x, c.y);
    EXPECT_EQ(first.extras.count("stage2.negative_fraction"), 0u) << mode;
    const auto second = method->step(*c.net, loss, c.x, c.y);
    const double fraction = second.extras.at("stage2.negative_fraction");
    EXPECT_GE(fraction, 0.0);
    EXPECT_LE(fraction, 1.0);
    EXPECT_EQ(second.extras.count("stage0.negative_fraction"), 0u);  // V at x_0 is never formed
    if (std::string(mode) == "factored")
      EXPECT_GT(second.extras.at("stage2.closed_loop_gain"), 0.0);
    else
      EXPECT_EQ(second.extras.count("stage2.closed_loop_gain"), 0u);
  }
}

}  // namespace
}  // namespace octrain::methods
