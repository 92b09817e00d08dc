// DDPNOpt's factored value model with a rank-K factor per sample (the exact terminal factor, and
// several sampled draws averaged): V_xx = Σ_k z_k z_kᵀ, carried through the recursion with a K×K
// radicand matrix. Checked against explicit matrices and against the full value model.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/linalg.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/elementwise_curvature.h"
#include "octrain/methods/layer_maps.h"
#include "octrain/methods/registry.h"
#include "octrain/methods/stage_curvature.h"
#include "octrain/methods/value_model.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {

// Σ_k z_k z_kᵀ per sample [B, n, n] of a folded factor [K·B, …].
torch::Tensor factor_gram(const torch::Tensor& factor, int64_t batch) {
  const auto columns = factor.reshape({-1, batch, factor.numel() / factor.size(0)});
  return torch::einsum("kbi,kbj->bij", {columns, columns});
}

double max_error(const torch::Tensor& ours, const torch::Tensor& truth) {
  return (ours.reshape(truth.sizes()) - truth).abs().max().item<double>();
}

TEST(RankFactor, ExactTerminalFactorReproducesTheHessian) {
  torch::manual_seed(31);
  const auto logits = torch::randn({5, 4}, torch::kFloat64);
  const auto labels = torch::tensor({0, 3, 1, 2, 2}, torch::kLong);
  const auto targets = torch::randn({5, 4}, torch::kFloat64);
  control::CrossEntropyLoss ce;
  control::MeanSquaredErrorLoss mse;
  for (const control::TerminalLoss* loss : std::vector<const control::TerminalLoss*>{&ce, &mse}) {
    const auto& y = loss == &ce ? labels : targets;
    const auto z = exact_terminal_factor(*loss, logits, y);
    EXPECT_EQ(z.size(0), 4 * 5) << loss->name();
    EXPECT_LE(max_error(factor_gram(z, 5), per_sample_hessian(*loss, logits, y)), 1e-12)
        << loss->name();
  }
}

// One dense stage h = W x + b with identity curvature and a rank-2 factor Z_s = [z_s¹ z_s²] at its
// output: S_s = ‖x̃_s‖² Z_sᵀZ_s, and the factor at the input has Gram Wᵀ Z_s (I − (η/B) S_s) Z_sᵀ W;
// V_x = Wᵀ(V_h + Σ_k z_k (z_k·g_u k̄)).
TEST(RankFactor, RankTwoRadicandIsAMatrix) {
  torch::manual_seed(32);
  const int64_t batch = 5, rank = 2;
  control::DenseStage dense(4, 3);
  dense.to(torch::kFloat64);
  const auto x = torch::randn({batch, 4}, torch::kFloat64);
  const auto xt = torch::cat({x, torch::ones({batch, 1}, torch::kFloat64)}, 1);
  const auto z = torch::randn({rank * batch, 3}, torch::kFloat64) * 0.5;
  ValueModel next{torch::randn({batch, 3}, torch::kFloat64), {}, z, {}};
  const auto direction = torch::randn({3, 5}, torch::kFloat64);
  LayerValueOptions options;
  options.lr = 0.1;
  options.diagnostics = true;
  torch::NoGradGuard no_grad;
  const auto result = layer_value(dense, x, next, IdentityCurvature(), {}, direction, options);

  const auto columns = z.view({rank, batch, 3}).permute({1, 2, 0});  // Z_s [B, 3, K]
  const auto s_matrix = columns.transpose(1, 2).bmm(columns) * xt.square().sum(1).view({-1, 1, 1});
  const auto radicand = torch::eye(rank, torch::kFloat64) - s_matrix * (options.lr / double(batch));
  ASSERT_GT(torch::linalg::eigvalsh(radicand, "L").min().item<double>(), 0.0);
  const auto wz = dense.weight.t().matmul(columns);  // Wᵀ Z_s [B, 4, K]
  const auto truth = wz.bmm(radicand).bmm(wz.transpose(1, 2));
  EXPECT_LE(max_error(factor_gram(result.value.factor, batch), truth), 1e-12);
  EXPECT_EQ(result.radicand_clamps, 0);
  EXPECT_EQ(result.negative_fraction, 0.0);

  const auto step = xt.mm(direction.t() * -options.lr);  // g_u k̄ per sample [B, 3]
  const auto k_dot = (z.view({rank, batch, 3}) * step).sum(2, true);
  const auto v_h = next.gradient + (z.view({rank, batch, 3}) * k_dot).sum(0);
  EXPECT_LE(max_error(result.value.gradient, v_h.mm(dense.weight)), 1e-12);
  // Stepped far enough the radicand matrix turns indefinite: its negative eigenvalues are clamped
  // and counted.
  options.lr = 40.0;
  const auto clamped = layer_value(dense, x, next, IdentityCurvature(), {}, direction, options);
  EXPECT_GT(clamped.radicand_clamps, 0);
  EXPECT_GT(clamped.negative_fraction, 0.0);
}

// λ_max(Ĝ) of a rank-K factor runs over every column of every sample: the explicit (K·B)×(K·B)
// Gram of the per-column control gradients, dense and conv stages.
TEST(RankFactor, ClosedLoopGainCoversEveryColumn) {
  torch::manual_seed(33);
  const double weight = 0.2;
  const int64_t batch = 4, rank = 3;
  control::DenseStage dense(5, 3);
  control::Conv2dStage conv(2, 3, 3, 1, 1);
  for (control::Stage* stage : std::vector<control::Stage*>{&dense, &conv}) {
    stage->to(torch::kFloat64);
    const auto x = stage == &dense ? torch::randn({batch, 5}, torch::kFloat64)
                                   : torch::randn({batch, 2, 4, 4}, torch::kFloat64);
    torch::NoGradGuard no_grad;
    const auto h = stage->forward(x);
    std::vector<int64_t> shape(h.sizes().begin(), h.sizes().end());
    shape[0] *= rank;
    const auto z = torch::randn(shape, torch::kFloat64);
    const auto x_k = x.repeat(stage == &dense ? std::vector<int64_t>{rank, 1}
                                              : std::vector<int64_t>{rank, 1, 1, 1});
    const auto q = per_sample_control_vjp(*stage, x_k, z).reshape({rank * batch, -1});
    const double truth = torch::linalg::eigvalsh(q.mm(q.t()) * weight, "L").max().item<double>();
    const auto ours = closed_loop_gain(*stage, x_k, z, IdentityCurvature(), weight);
    EXPECT_NEAR(ours.value, truth, 2e-2 * truth) << stage->describe();
  }
}

// With the exact terminal factor, no second-order terms and radicands inside [0, ∞), the
// factored model is the full one: DDPNOpt's step is the same with value_hessian=factored and
// value_hessian=full (both with identity curvature, so Q_uu = I/η exactly).
TEST(RankFactor, FactoredExactMatchesFullValueHessians) {
  control::CrossEntropyLoss ce;
  control::MeanSquaredErrorLoss mse;
  for (const control::TerminalLoss* loss : std::vector<const control::TerminalLoss*>{&ce, &mse}) {
    std::vector<torch::Tensor> steps;
    for (const char* value : {"value_hessian=factored,terminal_factor=exact,feedback_cap=none",
                              "value_hessian=full,terminal_hessian=exact"}) {
      torch::manual_seed(34);
      auto net = control::build_network("mlp:3-5-4-3:tanh", {3});
      net->to(torch::kFloat64);
      net->set_running_cost({0.01, 0});
      const auto x = torch::randn({6, 3}, torch::kFloat64);
      const auto y = loss == &ce ? torch::tensor({0, 2, 1, 2, 0, 1}, torch::kLong)
                                 : torch::randn({6, 3}, torch::kFloat64);
      auto method = make_method(
          fmt::format("ddpnopt:curvature=identity,lr=0.4,{},diagnostics_every=1", value), *net);
      const auto stats = method->step(*net, *loss, x, y);
      if (stats.extras.count("radicand_clamps")) {
        EXPECT_EQ(stats.extras.at("radicand_clamps"), 0.0) << loss->name();
      }
      std::vector<torch::Tensor> controls;
      for (size_t t = 0; t < net->size(); ++t)
        for (const auto& u : net->stage(t).controls()) controls.push_back(u.flatten());
      steps.push_back(torch::cat(controls));
    }
    EXPECT_LE(max_error(steps[0], steps[1]), 1e-10) << loss->name();
  }
}

// D averaged draws: still unbiased for ∇²φ_s, with 1/D of one draw's variance; draw k is the
// k-th call of the one-draw factor from the same generator state.
TEST(RankFactor, AveragedDrawsAreUnbiasedWithLessVariance) {
  torch::manual_seed(35);
  const auto logits = torch::randn({3, 4}, torch::kFloat64);
  const auto labels = torch::tensor({0, 3, 1}, torch::kLong);
  control::CrossEntropyLoss ce;
  const auto truth = per_sample_hessian(ce, logits, labels);
  const int64_t repeats = 6000, draws = 4;
  const auto many_logits = logits.repeat({repeats, 1});
  const auto many_labels = labels.repeat({repeats});
  auto estimates = [&](int64_t d) {  // [repeats, 3, 4, 4]
    return factor_gram(averaged_terminal_factor(ce, many_logits, many_labels, d), 3 * repeats)
        .view({repeats, 3, 4, 4});
  };
  const auto one = estimates(1), averaged = estimates(draws);
  const double tolerance = 5 * 2 * truth.abs().max().item<double>() / std::sqrt(double(repeats));
  EXPECT_LE(max_error(averaged.mean(0), truth), tolerance);
  const double ratio = (averaged.var(0).sum() / one.var(0).sum()).item<double>();
  EXPECT_NEAR(ratio, 1.0 / draws, 0.05);

  torch::manual_seed(7);
  const auto folded = averaged_terminal_factor(ce, logits, labels, 3);
  torch::manual_seed(7);
  for (int64_t k = 0; k < 3; ++k)
    EXPECT_TRUE(torch::allclose(folded.narrow(0, 3 * k, 3),
                                sampled_terminal_factor(ce, logits, labels) / std::sqrt(3.0)));
}

TEST(RankFactor, DrawsNeedTheSampledFactor) {
  auto net = control::build_network("mlp:3-4-3:tanh", {3});
  EXPECT_THROW(make_method("ddpnopt:terminal_factor=outer,terminal_draws=2", *net), UsageError);
  EXPECT_NO_THROW(make_method("ddpnopt:terminal_factor=sampled,terminal_draws=2", *net));
}

}  // namespace
}  // namespace octrain::methods
