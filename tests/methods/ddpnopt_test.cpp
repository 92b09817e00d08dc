// DDPNOpt and DDP: the reductions to their base optimisers step for step, the cheap feedback
// against autograd's Q_ux, FACTORED against FULL, and DDP on a linear-quadratic problem.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/serialize.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <sstream>

#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/methods/elementwise_curvature.h"
#include "octrain/methods/layer_maps.h"
#include "octrain/methods/registry.h"
#include "octrain/methods/value_model.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {

struct DdpProblem {
  std::shared_ptr<control::Network> net;
  torch::Tensor x, y;
};

DdpProblem make_ddp_problem(const std::string& spec, std::vector<int64_t> input, int64_t classes,
                            uint64_t seed, double weight_decay = 1e-3) {
  torch::manual_seed(seed);
  DdpProblem p;
  p.net = control::build_network(spec, input);
  p.net->to(torch::kFloat64);
  p.net->set_running_cost({weight_decay, 0});
  input.insert(input.begin(), 8);
  p.x = torch::randn(input, torch::kFloat64);
  p.y = torch::randint(classes, {8}, torch::kLong);
  return p;
}

void expect_same_steps_as_base(const std::string& spec, const std::string& ours_spec,
                               const std::string& base_spec, int steps = 5, double rtol = 1e-11,
                               double atol = 1e-13) {
  const std::vector<int64_t> input =
      spec.rfind("cnn", 0) == 0 ? std::vector<int64_t>{1, 6, 6} : std::vector<int64_t>{5};
  auto a = make_ddp_problem(spec, input, 3, 7), b = make_ddp_problem(spec, input, 3, 7);
  control::CrossEntropyLoss loss;
  auto ours = make_method(ours_spec, *a.net);
  auto base = make_method(base_spec, *b.net);
  for (int s = 0; s < steps; ++s) {
    const auto sa = ours->step(*a.net, loss, a.x, a.y);
    const auto sb = base->step(*b.net, loss, b.x, b.y);
    EXPECT_NEAR(sa.objective, sb.objective, 1e-12) << ours_spec << " step " << s;
    const auto ca = a.net->controls(), cb = b.net->controls();
    for (size_t i = 0; i < ca.size(); ++i)
      ASSERT_TRUE(torch::allclose(ca[i], cb[i], rtol, atol))
          << ours_spec << " vs " << base_spec << " step " << s << " control " << i << "\n"
          << (ca[i] - cb[i]).abs().max().item<double>();
  }
}

const char* kMlp = "mlp:5-7-6-3:tanh";
const char* kCnn = "cnn:conv3x3-maxpool2-conv2x3-flatten-3:relu";

TEST(Ddpnopt, WithoutFeedbackIdentityCurvatureIsSgd) {
  expect_same_steps_as_base(kMlp, "ddpnopt:curvature=identity,feedback=false,lr=0.1", "sgd:lr=0.1");
  expect_same_steps_as_base(kMlp, "ddpnopt:curvature=identity,feedback=false,lr=0.1,momentum=0.9",
                            "sgd:lr=0.1,momentum=0.9");
  expect_same_steps_as_base(kCnn, "ddpnopt:curvature=identity,feedback=false,lr=0.1", "sgd:lr=0.1");
}

TEST(Ddpnopt, WithoutFeedbackDiagonalCurvatureIsRmsprop) {
  expect_same_steps_as_base(kMlp, "ddpnopt:curvature=diag,feedback=false,lr=0.01,alpha=0.9",
                            "rmsprop:lr=0.01,alpha=0.9");
  expect_same_steps_as_base(kCnn, "ddpnopt:curvature=diag,feedback=false,lr=0.01",
                            "rmsprop:lr=0.01");
}

TEST(Ddpnopt, WithoutFeedbackOnABatchNormNetIsItsBaseOptimiser) {
  // Batch-norm stages take the open-loop step of the base optimiser; the dense layers around
  // them keep their value recursion, which passes through batch norm's state VJP.
  const char* bn_mlp = "mlp:5-7-6-3:tanh:bn=true";
  expect_same_steps_as_base(bn_mlp, "ddpnopt:curvature=adam,feedback=false,lr=0.01",
                            "adam:lr=0.01");
  expect_same_steps_as_base(bn_mlp, "ddpnopt:curvature=diag,feedback=false,lr=0.01",
                            "rmsprop:lr=0.01");
  expect_same_steps_as_base(bn_mlp, "ddpnopt:curvature=identity,feedback=false,lr=0.1",
                            "sgd:lr=0.1");
}

TEST(Ddpnopt, FeedbackOnABatchNormNetMovesTheRunningStatisticsOnce) {
  // The feedback pass's forward through batch norm must not update its running statistics a
  // second time: after a step they are those of one training-mode forward of the batch.
  const char* bn_mlp = "mlp:5-7-6-3:tanh:bn=true";
  auto a = make_ddp_problem(bn_mlp, {5}, 3, 4), b = make_ddp_problem(bn_mlp, {5}, 3, 4);
  control::CrossEntropyLoss loss;
  auto method = make_method("ddpnopt:curvature=adam,lr=0.01", *a.net);
  const auto stats = method->step(*a.net, loss, a.x, a.y);
  EXPECT_GT(stats.extras.at("feedback_norm"), 0.0);
  {
    torch::NoGradGuard no_grad;
    b.net->rollout(b.x, /*record_graphs=*/false);
  }
  const auto buffers_a = a.net->buffers(), buffers_b = b.net->buffers();
  ASSERT_EQ(buffers_a.size(), buffers_b.size());
  ASSERT_FALSE(buffers_a.empty());
  for (size_t i = 0; i < buffers_a.size(); ++i)
    EXPECT_TRUE(torch::equal(buffers_a[i], buffers_b[i])) << "buffer " << i;
}

TEST(Ddpnopt, BatchNormNeedsAnElementwiseCurvatureAndAFactoredValue) {
  const char* bn_mlp = "mlp:5-7-6-3:tanh:bn=true";
  auto p = make_ddp_problem(bn_mlp, {5}, 3, 1);
  EXPECT_THROW(make_method("ddpnopt:curvature=kfac", *p.net), UsageError);
  EXPECT_THROW(make_method("ddpnopt:curvature=adam,value_hessian=full", *p.net), UsageError);
  EXPECT_THROW(make_method("ddp", *p.net), UsageError);
  EXPECT_NO_THROW(make_method("ddpnopt:curvature=adam", *p.net));
}

TEST(Ddpnopt, WithoutFeedbackAdamCurvatureIsAdam) {
  expect_same_steps_as_base(kMlp, "ddpnopt:curvature=adam,feedback=false,lr=0.01,beta2=0.99",
                            "adam:lr=0.01,beta2=0.99");
}

TEST(Ddpnopt, WithoutFeedbackKroneckerCurvatureIsKfac) {
  for (const char* every : {"1", "2"}) {
    const std::string options =
        std::string("lr=0.05,damping=0.01,refresh_every=2,kl_clip=0,stats_every=") + every;
    expect_same_steps_as_base(kMlp, "ddpnopt:curvature=kfac,feedback=false," + options,
                              "kfac:" + options);
    expect_same_steps_as_base(kMlp, "ddpnopt:curvature=ekfac,feedback=false," + options,
                              "ekfac:" + options);
    expect_same_steps_as_base(kCnn, "ddpnopt:curvature=kfac,feedback=false," + options,
                              "kfac:" + options);
  }
}

// KL clipping scales DDPNOpt's feedback-free step exactly as the kfac method scales its own.
TEST(Ddpnopt, WithoutFeedbackKroneckerCurvatureIsKfacWithKlClipping) {
  const std::string options = "lr=0.5,damping=0.01,refresh_every=2,stats_every=1,kl_clip=1e-3";
  expect_same_steps_as_base(kMlp, "ddpnopt:curvature=kfac,feedback=false," + options,
                            "kfac:" + options);
  // Three steps: the second eigenbasis refresh (step 4) diagonalises nearly degenerate factors of
  // this tiny CNN, whose eigenvectors turn the last-bit difference of the two clip sums into
  // ~1e-6 on some BLAS kernels; up to then the steps agree to 1e-11.
  expect_same_steps_as_base(kCnn, "ddpnopt:curvature=ekfac,feedback=false," + options,
                            "ekfac:" + options, 3);
  auto a = make_ddp_problem(kMlp, {5}, 3, 7);
  control::CrossEntropyLoss loss;
  auto method = make_method("ddpnopt:curvature=kfac," + options, *a.net);
  EXPECT_LT(method->step(*a.net, loss, a.x, a.y).extras.at("kl_clip_scale"), 1.0);
}

// Both methods run one update chain (update_transforms.h): clip → heavy ball → −η.
TEST(Ddpnopt, WithoutFeedbackKroneckerCurvatureWithMomentumIsKfac) {
  const std::string options = "lr=0.2,momentum=0.5,damping=0.01,refresh_every=2,stats_every=1";
  expect_same_steps_as_base(kMlp, "ddpnopt:curvature=kfac,feedback=false,kl_clip=0," + options,
                            "kfac:kl_clip=0," + options);
  expect_same_steps_as_base(kMlp, "ddpnopt:curvature=ekfac,feedback=false,kl_clip=1e-3," + options,
                            "ekfac:kl_clip=1e-3," + options);
}

TEST(Ddpnopt, FeedbackChangesTheStepAndReportsItsNorm) {
  auto a = make_ddp_problem(kMlp, {5}, 3, 3);
  control::CrossEntropyLoss loss;
  auto method = make_method("ddpnopt:curvature=identity,lr=0.5", *a.net);
  method->step(*a.net, loss, a.x, a.y);  // δx = 0 needs a changed earlier stage: step twice
  const auto stats = method->step(*a.net, loss, a.x, a.y);
  EXPECT_GT(stats.extras.at("stage2.feedback_norm"), 0.0);
  EXPECT_EQ(stats.extras.count("stage0.feedback_norm"), 0u);  // δx_0 = 0
  EXPECT_GT(stats.extras.at("stage4.update_norm"), 0.0);
}

// Per-sample Hessians of the terminal cost against their closed forms.
TEST(ValueModel, TerminalHessiansMatchClosedForms) {
  torch::manual_seed(1);
  const auto z = torch::randn({4, 3}, torch::kFloat64);
  const auto y = torch::tensor({0, 2, 1, 2}, torch::kLong);
  const auto p = torch::softmax(z, 1);
  const auto ce = torch::diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1);
  EXPECT_TRUE(torch::allclose(per_sample_hessian(control::CrossEntropyLoss(), z, y), ce, 1e-12));
  const auto target = torch::randn({4, 3}, torch::kFloat64);
  const auto mse = per_sample_hessian(control::MeanSquaredErrorLoss(), z, target);
  EXPECT_TRUE(torch::allclose(mse, (2.0 / 3.0) * torch::eye(3, torch::kFloat64).expand({4, 3, 3})));
}

// Σ_s Q_ux^(s) δx_s from autograd: ∂/∂u Σ_s ∇_x q_s · δx_s with
// q_s = ½ (h_s − h̄_s)ᵀ V_hh,s (h_s − h̄_s) (+ V_h,s · h_s for the second-order term).
torch::Tensor autograd_feedback(control::Stage& stage, const torch::Tensor& x,
                                const torch::Tensor& v_h, const torch::Tensor& v_hh,
                                const torch::Tensor& delta_x, bool second_order) {
  torch::AutoGradMode enable(true);
  const auto xr = x.detach().requires_grad_(true);
  const auto h = stage.forward(xr);
  const auto nominal = h.detach();
  const auto d = (h - nominal).reshape({x.size(0), -1});
  auto q = 0.5 * (d.unsqueeze(1).bmm(v_hh).bmm(d.unsqueeze(2))).sum();
  if (second_order) q = q + (h * v_h).sum();
  const auto gx = torch::autograd::grad({q}, {xr}, {}, true, true)[0];
  const auto controls = stage.controls();
  auto grads = torch::autograd::grad({(gx * delta_x).sum()}, controls, {}, false, false, true);
  auto weight = grads[0].reshape({grads[0].size(0), -1});
  return controls.size() == 2 ? torch::cat({weight, grads[1].unsqueeze(1)}, 1) : weight;
}

void expect_cheap_feedback_matches(control::Stage& stage, std::vector<int64_t> input) {
  torch::manual_seed(5);
  stage.to(torch::kFloat64);
  input.insert(input.begin(), 3);
  const auto x = torch::randn(input, torch::kFloat64);
  const auto delta_x = torch::randn(input, torch::kFloat64);
  torch::Tensor h;
  {
    torch::NoGradGuard no_grad;
    h = stage.forward(x);
  }
  const int64_t n = h[0].numel();
  const auto v_h = torch::randn(h.sizes(), torch::kFloat64);
  // FULL: an arbitrary symmetric V_hh per sample.
  auto r = torch::randn({3, n, n}, torch::kFloat64);
  ValueModel full{v_h, r + r.transpose(1, 2), {}, {}};
  // FACTORED: z zᵀ + diag(e).
  const auto z = torch::randn(h.sizes(), torch::kFloat64);
  const auto e = torch::rand(h.sizes(), torch::kFloat64);
  ValueModel factored{v_h, {}, z, e};
  const auto zf = z.reshape({3, n});
  const auto factored_hessian =
      zf.unsqueeze(2) * zf.unsqueeze(1) + torch::diag_embed(e.reshape({3, n}));
  for (bool second_order : {false, true}) {
    torch::NoGradGuard no_grad;
    const auto cheap_full = feedback_gradient(stage, x, full, delta_x, second_order);
    const auto cheap_fact = feedback_gradient(stage, x, factored, delta_x, second_order);
    const auto truth_full = autograd_feedback(stage, x, v_h, full.hessian, delta_x, second_order);
    const auto truth_fact =
        autograd_feedback(stage, x, v_h, factored_hessian, delta_x, second_order);
    EXPECT_TRUE(torch::allclose(cheap_full, truth_full, 1e-10, 1e-12))
        << stage.describe() << " full, second_order=" << second_order;
    EXPECT_TRUE(torch::allclose(cheap_fact, truth_fact, 1e-10, 1e-12))
        << stage.describe() << " factored, second_order=" << second_order;
    // Without the Tikhonov diagonal the feedback may use q_x = g_xᵀz: z·(g_x δx) = q_x·δx.
    const ValueModel rank_one{v_h, {}, z, {}};
    const auto q_x = layer_value(stage, x, rank_one, IdentityCurvature(), {},
                                 torch::zeros_like(to_layer_matrix(stage, stage.controls())),
                                 LayerValueOptions{})
                         .state_factor;
    const auto shortcut = feedback_gradient(stage, x, rank_one, delta_x, second_order, {}, q_x);
    const auto truth_rank_one =
        autograd_feedback(stage, x, v_h, zf.unsqueeze(2) * zf.unsqueeze(1), delta_x, second_order);
    EXPECT_TRUE(torch::allclose(shortcut, truth_rank_one, 1e-10, 1e-12))
        << stage.describe() << " q_x shortcut, second_order=" << second_order;
  }
}

// The Newton cap against per-sample quantities built by hand on one dense stage with identity
// curvature: λ_s = η‖z_s‖²‖x̃_s‖², scale_s = 1/max(1, λ_s), and both the feedback and the Q_uxᵀk
// term of V_x shrink by scale_s while z_new = √max(0, 1 − λ_s) Wᵀz_s.
TEST(ValueModel, NewtonCapScalesEachSamplesFeedbackAndGain) {
  torch::manual_seed(8);
  control::DenseStage dense(4, 3);
  dense.to(torch::kFloat64);
  const auto x = torch::randn({6, 4}, torch::kFloat64);
  const auto delta_x = torch::randn({6, 4}, torch::kFloat64);
  const auto v_h = torch::randn({6, 3}, torch::kFloat64);
  const auto z = torch::randn({6, 3}, torch::kFloat64) *
                 torch::linspace(0.1, 2.0, 6, torch::kFloat64).unsqueeze(1);
  const ValueModel next{v_h, {}, z, {}};
  const auto direction = torch::randn({3, 5}, torch::kFloat64);  // M⁻¹Q̄_u = Q̄_u for M = I
  const double lr = 0.2;
  LayerValueOptions options;
  options.lr = lr;
  options.cap = FeedbackCap::kSample;
  options.value_scale = ValueScale::kLiteral;  // λ_s without the 1/B of the batch scaling
  IdentityCurvature identity;
  torch::NoGradGuard no_grad;
  const auto result = layer_value(dense, x, next, identity, {}, direction, options);

  const auto xt = torch::cat({x, torch::ones({6, 1}, torch::kFloat64)}, 1);
  const auto& w = dense.weight;
  const auto lambda = lr * z.square().sum(1) * xt.square().sum(1);
  ASSERT_GT(lambda.max().item<double>(), 2.0);  // some samples would over-correct
  ASSERT_LT(lambda.min().item<double>(), 1.0);  // and some would not
  const auto scale = 1.0 / lambda.clamp_min(1.0);
  EXPECT_TRUE(torch::allclose(result.feedback_scale, scale, 1e-12));
  EXPECT_EQ(result.radicand_clamps, lambda.gt(1.0).sum().item<int64_t>());
  const auto k_dot = (z * xt.mm(direction.t() * -lr)).sum(1) * scale;
  EXPECT_TRUE(torch::allclose(result.value.gradient, (v_h + z * k_dot.unsqueeze(1)).mm(w), 1e-12));
  const auto root = (1.0 - lambda).clamp_min(0.0).sqrt().unsqueeze(1);
  EXPECT_TRUE(torch::allclose(result.value.factor, z.mm(w) * root, 1e-12));

  EXPECT_TRUE(torch::allclose(result.state_factor, z.mm(w), 1e-12));
  const auto r = z * ((z * delta_x.mm(w.t())).sum(1) * scale).unsqueeze(1);
  for (const auto& state_factor : {torch::Tensor(), result.state_factor}) {
    const auto capped =
        feedback_gradient(dense, x, next, delta_x, false, result.feedback_scale, state_factor);
    EXPECT_TRUE(torch::allclose(capped, r.t().mm(xt), 1e-12)) << state_factor.defined();
  }
  options.need_factor = false;
  const auto bare = layer_value(dense, x, next, identity, {}, direction, options);
  EXPECT_FALSE(bare.value.factored());
  EXPECT_TRUE(torch::allclose(bare.value.gradient, result.value.gradient, 1e-14));
}

TEST(ValueModel, CheapFeedbackEqualsAutogradQux) {
  control::DenseStage dense(4, 3);
  expect_cheap_feedback_matches(dense, {4});
  control::Conv2dStage conv(2, 3, 3, 1, 1);
  expect_cheap_feedback_matches(conv, {2, 4, 4});
  control::Conv2dStage strided(2, 2, 3, 2, 0, /*bias=*/false);
  expect_cheap_feedback_matches(strided, {2, 5, 5});
}

// With the Gauss-Newton outer product at x_T and no Tikhonov term, V_xx stays rank one through
// the backward pass, so FULL and FACTORED (Proposition 3) must take identical steps.
void expect_full_equals_factored(const std::string& options) {
  auto a = make_ddp_problem(kMlp, {5}, 3, 9), b = make_ddp_problem(kMlp, {5}, 3, 9);
  control::CrossEntropyLoss loss;
  auto full = make_method("ddpnopt:value_hessian=full,terminal_hessian=outer,tikhonov=0," + options,
                          *a.net);
  auto factored = make_method(
      "ddpnopt:value_hessian=factored,terminal_factor=outer,feedback_cap=none,tikhonov=0," +
          options,
      *b.net);
  for (int s = 0; s < 4; ++s) {
    full->step(*a.net, loss, a.x, a.y);
    const auto stats = factored->step(*b.net, loss, b.x, b.y);
    ASSERT_EQ(stats.extras.at("radicand_clamps"), 0.0) << options;
    const auto ca = a.net->controls(), cb = b.net->controls();
    for (size_t i = 0; i < ca.size(); ++i)
      ASSERT_TRUE(torch::allclose(ca[i], cb[i], 1e-10, 1e-12))
          << options << " step " << s << " control " << i;
  }
}

TEST(Ddpnopt, FactoredEqualsFullForARankOneTerminalHessian) {
  expect_full_equals_factored("curvature=identity,lr=0.3,gain=per-sample");
  expect_full_equals_factored("curvature=identity,lr=0.3,gain=batch");
  expect_full_equals_factored("curvature=adam,lr=0.001,gain=per-sample");
  expect_full_equals_factored("curvature=diag,lr=1e-5,eps=1e-3,gain=batch");
  expect_full_equals_factored("curvature=kfac,lr=0.01,damping=0.1,stats_every=1");
  expect_full_equals_factored("curvature=ekfac,lr=0.01,damping=0.1,gain=per-sample");
}

// One dense stage, MSE and an L2 running cost: J is quadratic in u, so DDP with the exact Q_uu
// and η = 1 lands on the ridge-regression optimum in one step.
TEST(Ddp, ReachesTheLinearQuadraticOptimumInOneStep) {
  torch::manual_seed(4);
  auto net = control::build_network("mlp:4-3", {4});
  net->to(torch::kFloat64);
  const double l2 = 0.05;
  net->set_running_cost({l2, 0});
  const auto x = torch::randn({10, 4}, torch::kFloat64);
  const auto y = torch::randn({10, 3}, torch::kFloat64);
  control::MeanSquaredErrorLoss loss;
  auto method = make_method("ddp:lr=1,damping=0", *net);
  method->step(*net, loss, x, y);
  // J = (1/(BK)) Σ‖θx̃ − y‖² + l2/2‖θ‖²  ⇒  θ* = Yᵀ X̃ (X̃ᵀX̃ + (BK·l2/2) I)⁻¹.
  const auto xt = torch::cat({x, torch::ones({10, 1}, torch::kFloat64)}, 1);
  const auto gram = xt.t().mm(xt) + (10 * 3 * l2 / 2) * torch::eye(5, torch::kFloat64);
  const auto theta = y.t().mm(xt).mm(torch::inverse(gram));
  auto& stage = static_cast<control::DenseStage&>(net->stage(0));
  EXPECT_TRUE(torch::allclose(stage.weight, theta.narrow(1, 0, 4), 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(stage.bias, theta.select(1, 4), 1e-10, 1e-12));
}

TEST(Ddp, TrainsATinyTanhNet) {
  auto p = make_ddp_problem("mlp:5-6-6-3:tanh", {5}, 3, 12);
  control::CrossEntropyLoss loss;
  auto method = make_method("ddp:tikhonov=1e-4", *p.net);
  const double first = method->step(*p.net, loss, p.x, p.y).loss;
  double last = first;
  for (int s = 0; s < 20; ++s) last = method->step(*p.net, loss, p.x, p.y).loss;
  EXPECT_LT(last, 0.5 * first);
}

TEST(Ddpnopt, SecondOrderDynamicsRunAndDifferFromGaussNewton) {
  auto a = make_ddp_problem("mlp:5-6-6-3:sigmoid", {5}, 3, 2),
       b = make_ddp_problem("mlp:5-6-6-3:sigmoid", {5}, 3, 2);
  control::MaxMahalanobisLoss loss(3, 3, 3.0);
  auto plain = make_method("ddpnopt:curvature=identity,lr=0.5,value_hessian=full", *a.net);
  auto second =
      make_method("ddpnopt:curvature=identity,lr=0.5,value_hessian=full,second_order=true", *b.net);
  for (int s = 0; s < 3; ++s) {
    plain->step(*a.net, loss, a.x, a.y);
    second->step(*b.net, loss, b.x, b.y);
  }
  EXPECT_FALSE(torch::allclose(a.net->controls()[0], b.net->controls()[0], 1e-9, 1e-12));
  for (const auto& c : b.net->controls()) EXPECT_TRUE(torch::isfinite(c).all().item<bool>());
}

TEST(Ddpnopt, StateSavesAndLoadsExactly) {
  for (const char* spec :
       {"ddpnopt:curvature=adam,lr=0.01", "ddpnopt:curvature=diag,momentum=0.5"}) {
    auto a = make_ddp_problem(kMlp, {5}, 3, 6), b = make_ddp_problem(kMlp, {5}, 3, 6);
    control::CrossEntropyLoss loss;
    auto ma = make_method(spec, *a.net), mb = make_method(spec, *b.net);
    // The sampled terminal factor draws from torch's generator (checkpoints save it): seed
    // each pair of steps alike.
    for (int s = 0; s < 2; ++s) {
      torch::manual_seed(100 + s);
      ma->step(*a.net, loss, a.x, a.y);
      torch::manual_seed(100 + s);
      mb->step(*b.net, loss, b.x, b.y);
    }
    std::stringstream buffer;
    {
      torch::serialize::OutputArchive archive;
      ma->save(archive);
      archive.save_to(buffer);
    }
    auto restored = make_method(spec, *a.net);
    torch::serialize::InputArchive archive;
    archive.load_from(buffer);
    restored->load(archive);
    torch::manual_seed(102);
    restored->step(*a.net, loss, a.x, a.y);
    torch::manual_seed(102);
    mb->step(*b.net, loss, b.x, b.y);
    const auto ca = a.net->controls(), cb = b.net->controls();
    for (size_t i = 0; i < ca.size(); ++i) EXPECT_TRUE(torch::equal(ca[i], cb[i])) << spec;
  }
}

TEST(Ddpnopt, RefusesWhatItCannotHandle) {
  // Residual stages pass (tests/methods/stage_blocks_test.cpp), not with full value Hessians;
  // batch norm only with an element-wise curvature (BatchNormNeedsAnElementwiseCurvature…).
  auto res = control::build_network("resmlp:3-4x2-2", {3});
  EXPECT_NO_THROW(make_method("ddpnopt", *res));
  EXPECT_THROW(make_method("ddpnopt:value_hessian=full", *res), UsageError);
  auto bn = control::build_network("mlp:3-4-2:relu:bn=true", {3});
  EXPECT_THROW(make_method("ddpnopt:curvature=kfac", *bn), UsageError);
  auto cnn = control::build_network(kCnn, {1, 6, 6});
  EXPECT_THROW(make_method("ddpnopt:value_hessian=full", *cnn), UsageError);
  EXPECT_NO_THROW(make_method("ddpnopt", *cnn));
  auto mlp = control::build_network(kMlp, {5});
  EXPECT_THROW(make_method("ddpnopt:second_order=true", *mlp), UsageError);
  EXPECT_THROW(make_method("ddpnopt:curvature=adam,momentum=0.9", *mlp), UsageError);
  EXPECT_THROW(make_method("ddpnopt:value_hessian=full,feedback_cap=sample", *mlp), UsageError);
  EXPECT_THROW(make_method("ddpnopt:positive_part=true", *mlp), UsageError);
  // The augmented state is refused at the first step, when the batch size is known.
  auto big = make_ddp_problem("mlp:5-6-3:tanh", {5}, 3, 1);
  auto augmented = make_method("ddp:max_augmented_state=40", *big.net);
  control::CrossEntropyLoss ce;
  EXPECT_THROW(augmented->step(*big.net, ce, big.x, big.y), UsageError);
  EXPECT_NO_THROW(make_method("ddp:blocks=diagonal,max_augmented_state=40", *big.net)
                      ->step(*big.net, ce, big.x, big.y));
  auto wide = control::build_network("mlp:100-50-3", {100});
  try {
    make_method("ddp", *wide);
    FAIL() << "ddp accepted a 5050-control stage";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("max_stage_controls"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace octrain::methods
