// The update transforms of kfac/ekfac and DDPNOpt: heavy ball and KL clipping against sequences
// computed by hand (in binary fractions, so exactly), the whole chain against torch::optim's SGD
// with momentum and Adam step for step, and the split of a layer matrix into a stage's controls.
#include "octrain/methods/update_transforms.h"

#include <gtest/gtest.h>
#include <torch/optim.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "octrain/control/dense.h"
#include "octrain/methods/elementwise_curvature.h"
#include "octrain/methods/stage_curvature.h"

namespace octrain::methods {
namespace {

torch::Tensor matrix(const std::vector<double>& values) {
  return torch::tensor(values, torch::kFloat64).reshape({2, 2});
}

TEST(UpdateTransforms, HeavyBallFollowsTheHandComputedSequence) {
  // v ← ½v + s from v = 0, and u = −¼v.
  const std::vector<torch::Tensor> steps = {matrix({1, -2, 0.5, 8}), matrix({4, 0.5, -1, 0}),
                                            matrix({-1, 3, 2, -4})};
  const std::vector<torch::Tensor> velocities = {
      matrix({1, -2, 0.5, 8}),          // s₁
      matrix({4.5, -0.5, -0.75, 4}),    // ½v₁ + s₂
      matrix({1.25, 2.75, 1.625, -2}),  // ½v₂ + s₃
  };
  torch::Tensor velocity;
  for (size_t k = 0; k < steps.size(); ++k) {
    const auto before = steps[k].clone();
    const auto update = momentum_update(steps[k], 1.0, velocity, 0.5, 0.25);
    EXPECT_TRUE(torch::equal(update.step, velocities[k])) << "step " << k + 1;
    EXPECT_TRUE(torch::equal(update.update, velocities[k] * -0.25)) << "step " << k + 1;
    EXPECT_TRUE(torch::equal(velocity, velocities[k])) << "the buffer is v";
    EXPECT_TRUE(torch::equal(steps[k], before)) << "the input is never written";
  }
}

TEST(UpdateTransforms, ClippingScalesTheStepBeforeTheMomentum) {
  torch::Tensor velocity;
  auto first = momentum_update(matrix({1, -2, 0.5, 8}), 0.5, velocity, 0.5, 1.0);
  EXPECT_TRUE(torch::equal(first.step, matrix({0.5, -1, 0.25, 4})));
  auto second = momentum_update(matrix({4, 0.5, -1, 0}), 0.25, velocity, 0.5, 1.0);
  EXPECT_TRUE(torch::equal(second.step, matrix({1.25, -0.375, -0.125, 2})));  // ½v₁ + ¼s₂
  EXPECT_TRUE(torch::equal(second.update, -second.step));
}

TEST(UpdateTransforms, NeutralTransformsPassTheStepThrough) {
  const auto step = matrix({1, 2, 3, 4});
  EXPECT_TRUE(clip_step(step, 1.0).is_same(step));
  torch::Tensor velocity;
  EXPECT_TRUE(heavy_ball(velocity, step, 0.0).is_same(step));
  EXPECT_FALSE(velocity.defined());  // μ = 0 keeps no buffer (DDPNOpt saves none then)
  EXPECT_TRUE(torch::equal(scale_by_learning_rate(step, 2.0), matrix({-2, -4, -6, -8})));
}

TEST(UpdateTransforms, ApplyUpdateSplitsTheLayerMatrixIntoTheControls) {
  torch::manual_seed(3);
  control::DenseStage stage(3, 2);
  stage.to(torch::kFloat64);
  const auto weight = stage.weight.detach().clone(), bias = stage.bias.detach().clone();
  const auto update = torch::arange(8, torch::kFloat64).reshape({2, 4});  // [out, fan + 1]
  {
    torch::NoGradGuard no_grad;
    apply_update(stage, update);
  }
  EXPECT_TRUE(torch::equal(stage.weight, weight + update.narrow(1, 0, 3)));
  EXPECT_TRUE(torch::equal(stage.bias, bias + update.select(1, 3)));
  EXPECT_TRUE(
      torch::equal(to_layer_matrix(stage, {update.narrow(1, 0, 3), update.select(1, 3)}), update));
}

// The chain with M = I is torch::optim::SGD with momentum, and the Adam transform on
// DiagonalCurvature's M is torch::optim::Adam (both without weight decay).
TEST(UpdateTransforms, ChainsTakeTorchOptimsSteps) {
  torch::manual_seed(5);
  const auto start = torch::randn({4, 3}, torch::kFloat64);
  auto sgd_param = start.clone().requires_grad_(true);
  auto adam_param = start.clone().requires_grad_(true);
  torch::optim::SGD sgd({sgd_param}, torch::optim::SGDOptions(0.1).momentum(0.9));
  torch::optim::Adam adam({adam_param},
                          torch::optim::AdamOptions(0.01).betas({0.8, 0.99}).eps(1e-8));
  auto theta_sgd = start.clone(), theta_adam = start.clone();
  torch::Tensor velocity, moment;
  DiagonalCurvature curvature(0.99, 1e-8, /*bias_correction=*/true);
  for (int t = 1; t <= 5; ++t) {
    const auto g = torch::randn({4, 3}, torch::kFloat64);
    sgd_param.mutable_grad() = g.clone();
    adam_param.mutable_grad() = g.clone();
    sgd.step();
    adam.step();
    theta_sgd += momentum_update(g, 1.0, velocity, 0.9, 0.1).update;
    curvature.observe(LayerRows{}, g);
    theta_adam += adam_update(curvature, moment, g, 0.8, t, 0.01);
    EXPECT_TRUE(torch::allclose(theta_sgd, sgd_param.detach(), 1e-13, 1e-15)) << "step " << t;
    EXPECT_TRUE(torch::allclose(theta_adam, adam_param.detach(), 1e-13, 1e-15)) << "step " << t;
  }
}

}  // namespace
}  // namespace octrain::methods
