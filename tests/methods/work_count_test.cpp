// The work each method counts for its steps (work_count.h) against hand counts on tiny nets.
#include "octrain/methods/work_count.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/registry.h"

namespace octrain::methods {
namespace {

constexpr int64_t kBatch = 5;

struct Counted {
  double flops;
  StepStats stats;
};

// The FLOPs counted during one step of `spec` on a fresh `model` with a batch of kBatch.
Counted one_step(const std::string& model, int64_t in, const std::string& spec) {
  torch::manual_seed(3);
  auto net = control::build_network(model, {in});
  auto method = make_method(spec, *net);
  const auto x = torch::randn({kBatch, in});
  const auto y = torch::randint(2, {kBatch}, torch::kLong);
  control::CrossEntropyLoss loss;
  const double before = counted_flops();
  auto stats = method->step(*net, loss, x, y);
  return {counted_flops() - before, stats};
}

// A dense layer's product on the batch: 2 FLOPs per multiply-add.
double dense(int64_t in, int64_t out) {
  return 2.0 * kBatch * in * out;
}

TEST(WorkCount, GradientStepIsForwardSweepAndGradients) {
  // mlp:3-4-2: F = F₀ + F₁; the sweep skips the input co-state, the first layer's product.
  const double f0 = dense(3, 4), f1 = dense(4, 2);
  EXPECT_DOUBLE_EQ(one_step("mlp:3-4-2:tanh", 3, "adam").flops, 3 * (f0 + f1) - f0);
  EXPECT_DOUBLE_EQ(one_step("mlp:3-4-2:tanh", 3, "sgd").flops, 3 * (f0 + f1) - f0);
}

TEST(WorkCount, KfacAddsStatisticsInversesAndSolves) {
  // Per layer with out outputs and fan = in + 1 (bias): A = x̃ᵀx̃ and G = gᵀg over the 5 rows,
  // two Cholesky inverses (n³ each), and G⁻¹ D A⁻¹.
  const auto layer = [](int64_t in, int64_t out) {
    const double fan = double(in + 1);
    const double statistics = 2.0 * kBatch * fan * fan + 2.0 * kBatch * out * out;
    const double inverses = fan * fan * fan + double(out) * out * out;
    const double solve = 2.0 * out * out * fan + 2.0 * out * fan * fan;
    return statistics + inverses + solve;
  };
  const double f0 = dense(3, 4), f1 = dense(4, 2);
  const double expected = 3 * (f0 + f1) - f0 + layer(3, 4) + layer(4, 2);
  EXPECT_DOUBLE_EQ(one_step("mlp:3-4-2:tanh", 3, "kfac:stats_every=1,refresh_every=1").flops,
                   expected);
}

TEST(WorkCount, SuccessiveApproximationCountsEveryEvaluation) {
  // One L-BFGS iteration without line search: 2 evaluations per stage, then the residuals'
  // evaluation. mlp:70-60-2: stage 0 has 4200 > 4096 weights (autograd), stage 1 the closed form
  // (5 products per evaluation with a co-state penalty, 3 without); autograd takes 5 with a
  // co-state penalty (E-MSA), 2 without (MSA, or E-MSA's first stage with
  // first_costate_penalty=false).
  const std::string options = ":iterations=1,line_search=none";
  const double f0 = dense(70, 60), f1 = dense(60, 2);
  const double sweep = 3 * (f0 + f1);  // with the input co-state
  const auto emsa = one_step("mlp:70-60-2:tanh", 70, "emsa" + options);
  ASSERT_EQ(emsa.stats.extras.at("lbfgs_evaluations"), 4);
  EXPECT_DOUBLE_EQ(emsa.flops, sweep + (5 * 2 + 2) * f0 + (5 * 2 + 2) * f1);
  const auto msa = one_step("mlp:70-60-2:tanh", 70, "msa" + options);
  ASSERT_EQ(msa.stats.extras.at("lbfgs_evaluations"), 4);
  EXPECT_DOUBLE_EQ(msa.flops, sweep + (2 * 2 + 2) * f0 + (3 * 2 + 2) * f1);
  const auto first_free =
      one_step("mlp:70-60-2:tanh", 70, "emsa" + options + ",first_costate_penalty=false");
  ASSERT_EQ(first_free.stats.extras.at("lbfgs_evaluations"), 4);
  EXPECT_DOUBLE_EQ(first_free.flops, sweep + (2 * 2 + 2) * f0 + (5 * 2 + 2) * f1);
}

TEST(WorkCount, DdpnoptWithoutFeedbackIsRolloutAndGradients) {
  // No value pass: the rollout, then per stage the control VJP Q̄_u, and the value gradient V_x
  // carried through the later stage's layer to the first.
  const double f0 = dense(3, 4), f1 = dense(4, 2);
  const auto counted =
      one_step("mlp:3-4-2:tanh", 3, "ddpnopt:feedback=false,curvature=identity").flops;
  EXPECT_DOUBLE_EQ(counted, (f0 + f1) + (f0 + f1) + f1);
}

}  // namespace
}  // namespace octrain::methods
