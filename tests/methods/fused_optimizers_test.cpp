// The fused optimisers take torch::optim's steps, option by option, over many steps in float64
// and float32, on the test device (on CUDA: torch::optim's own step, the fallback); their state
// is torch::optim's, so checkpoints of either load into the other and resume exactly.
#include "octrain/methods/fused_optimizers.h"

#include <gtest/gtest.h>
#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/types.h>

#include <sstream>

#include "test_device.h"

namespace octrain::methods {
namespace {

// Shapes with vector tails (odd sizes) and one larger than a parallel chunk.
std::vector<torch::Tensor> make_params(torch::Dtype dtype, uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> params;
  for (auto shape : std::vector<std::vector<int64_t>>{{7, 5}, {7}, {3, 11}, {1}, {300, 130}})
    params.push_back(torch::randn(shape, torch::kFloat64)
                         .to(test_env::test_device(), dtype)
                         .requires_grad_(true));
  return params;
}

std::vector<torch::Tensor> clone_all(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> copies;
  for (const auto& t : tensors) copies.push_back(t.detach().clone().requires_grad_(true));
  return copies;
}

// ∂H/∂θ-like gradients; the torch optimiser gets their negation in .grad, the fused one
// these with scale −1 through step_with (or in .grad through step(), every other step).
std::vector<torch::Tensor> make_gradients(const std::vector<torch::Tensor>& params, int step) {
  torch::manual_seed(1000 + step);
  std::vector<torch::Tensor> gradients;
  for (const auto& p : params)
    gradients.push_back(torch::randn(p.sizes(), torch::kFloat64).to(p.options()) * (1 + step % 3));
  return gradients;
}

struct Tolerance {
  double rtol, atol;
};

Tolerance tolerance(torch::Dtype dtype) {
  return dtype == torch::kFloat64 ? Tolerance{1e-11, 1e-13} : Tolerance{2e-4, 2e-6};
}

template <typename Fused, typename Torch, typename Options>
void expect_same_steps(const Options& options, torch::Dtype dtype, int steps = 60,
                       bool fusable = true) {
  auto ours = make_params(dtype, 3);
  auto theirs = clone_all(ours);
  Fused fused(ours, options);
  Torch reference(theirs, options);
  const auto tol = tolerance(dtype);
  for (int step = 0; step < steps; ++step) {
    auto gradients = make_gradients(ours, step);
    if (step % 2 == 0) {
      fused.step_with(gradients, -1.0);
    } else {
      for (size_t i = 0; i < ours.size(); ++i) ours[i].mutable_grad() = -gradients[i];
      fused.step();
    }
    ASSERT_EQ(fused.last_step_fused(), !test_env::test_device_is_cuda() && fusable);
    for (size_t i = 0; i < theirs.size(); ++i) theirs[i].mutable_grad() = -gradients[i];
    reference.step();
    for (size_t i = 0; i < ours.size(); ++i)
      ASSERT_TRUE(torch::allclose(ours[i], theirs[i], tol.rtol, tol.atol))
          << "step " << step << " parameter " << i << ": largest difference "
          << (ours[i] - theirs[i]).abs().max().item<double>();
  }
}

const std::vector<torch::Dtype> kDtypes = {torch::kFloat64, torch::kFloat32};

TEST(FusedOptimizers, SgdMatchesTorch) {
  using torch::optim::SGDOptions;
  for (auto dtype : kDtypes) {
    expect_same_steps<FusedSgd, torch::optim::SGD>(SGDOptions(0.05), dtype);
    expect_same_steps<FusedSgd, torch::optim::SGD>(SGDOptions(0.02).momentum(0.9), dtype);
    expect_same_steps<FusedSgd, torch::optim::SGD>(SGDOptions(0.02).momentum(0.8).dampening(0.3),
                                                   dtype);
    expect_same_steps<FusedSgd, torch::optim::SGD>(SGDOptions(0.02).momentum(0.9).nesterov(true),
                                                   dtype);
  }
}

TEST(FusedOptimizers, AdagradMatchesTorch) {
  using torch::optim::AdagradOptions;
  for (auto dtype : kDtypes) {
    expect_same_steps<FusedAdagrad, torch::optim::Adagrad>(AdagradOptions(0.05), dtype);
    expect_same_steps<FusedAdagrad, torch::optim::Adagrad>(
        AdagradOptions(0.05).lr_decay(0.01).initial_accumulator_value(0.1).eps(1e-6), dtype);
  }
}

TEST(FusedOptimizers, RmspropMatchesTorch) {
  using torch::optim::RMSpropOptions;
  for (auto dtype : kDtypes) {
    expect_same_steps<FusedRmsprop, torch::optim::RMSprop>(RMSpropOptions(0.01), dtype);
    expect_same_steps<FusedRmsprop, torch::optim::RMSprop>(
        RMSpropOptions(0.005).alpha(0.9).momentum(0.7), dtype);
    expect_same_steps<FusedRmsprop, torch::optim::RMSprop>(RMSpropOptions(0.005).centered(true),
                                                           dtype);
    expect_same_steps<FusedRmsprop, torch::optim::RMSprop>(
        RMSpropOptions(0.005).centered(true).momentum(0.5).eps(1e-4), dtype);
  }
}

TEST(FusedOptimizers, AdamMatchesTorch) {
  using torch::optim::AdamOptions;
  for (auto dtype : kDtypes) {
    expect_same_steps<FusedAdam, torch::optim::Adam>(AdamOptions(0.01), dtype, 200);
    expect_same_steps<FusedAdam, torch::optim::Adam>(AdamOptions(0.01).betas({0.8, 0.99}), dtype);
    expect_same_steps<FusedAdam, torch::optim::Adam>(AdamOptions(0.01).amsgrad(true), dtype);
  }
}

// Weight decay is not fused: torch::optim's own step takes it, with the same result.
TEST(FusedOptimizers, WeightDecayFallsBackToTorch) {
  using torch::optim::AdamOptions;
  expect_same_steps<FusedAdam, torch::optim::Adam>(AdamOptions(0.01).weight_decay(0.1),
                                                   torch::kFloat64, 10, false);
}

// A non-contiguous parameter (a transposed view) takes torch::optim's path too.
TEST(FusedOptimizers, NonContiguousParameterFallsBackToTorch) {
  auto base = torch::randn({6, 4}, torch::kFloat64);
  auto ours = base.clone().t().requires_grad_(true), theirs = base.clone().t().requires_grad_(true);
  ASSERT_FALSE(ours.is_contiguous());
  FusedAdam fused({ours}, torch::optim::AdamOptions(0.1));
  torch::optim::Adam reference({theirs}, torch::optim::AdamOptions(0.1));
  for (int step = 0; step < 5; ++step) {
    const auto g = torch::randn({4, 6}, torch::kFloat64);
    fused.step_with({g}, 1.0);
    EXPECT_FALSE(fused.last_step_fused());
    theirs.mutable_grad() = g;
    reference.step();
    EXPECT_TRUE(torch::allclose(ours, theirs, 1e-12, 1e-14)) << "step " << step;
  }
}

std::string saved(const torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

void load(torch::optim::Optimizer& optimizer, const std::string& bytes) {
  std::istringstream in(bytes);
  torch::serialize::InputArchive archive;
  archive.load_from(in);
  optimizer.load(archive);
}

template <typename Optimizer>
void steps(Optimizer& optimizer, const std::vector<torch::Tensor>& params, int from, int to) {
  for (int step = from; step < to; ++step) optimizer.step_with(make_gradients(params, step), -1.0);
}

// Stopped after 4 steps, saved and loaded into a fresh optimiser on a copy of the parameters,
// the next 5 steps are bit-identical to the uninterrupted run's.
template <typename Fused, typename Options>
void expect_exact_resume(const Options& options) {
  auto straight = make_params(torch::kFloat32, 5);
  auto resumed = clone_all(straight);
  Fused a(straight, options), b(resumed, options);
  steps(a, straight, 0, 4);
  steps(b, resumed, 0, 4);
  const auto bytes = saved(b);
  auto copies = clone_all(resumed);
  Fused c(copies, options);
  load(c, bytes);
  steps(a, straight, 4, 9);
  steps(c, copies, 4, 9);
  for (size_t i = 0; i < straight.size(); ++i)
    EXPECT_TRUE(straight[i].equal(copies[i])) << "parameter " << i;
}

TEST(FusedOptimizers, StateResumesBitExactly) {
  expect_exact_resume<FusedSgd>(torch::optim::SGDOptions(0.02).momentum(0.9).nesterov(true));
  expect_exact_resume<FusedAdagrad>(torch::optim::AdagradOptions(0.05).lr_decay(0.01));
  expect_exact_resume<FusedRmsprop>(
      torch::optim::RMSpropOptions(0.005).centered(true).momentum(0.5));
  expect_exact_resume<FusedAdam>(torch::optim::AdamOptions(0.01).amsgrad(true));
}

// A checkpoint written by torch::optim::Adam (octrain before the fused optimisers) loads into
// FusedAdam with every state tensor and step count, and one from FusedAdam into torch::optim.
TEST(FusedOptimizers, TorchOptimCheckpointsLoadBothWays) {
  const auto options = torch::optim::AdamOptions(0.01);
  auto params = make_params(torch::kFloat64, 7);
  torch::optim::Adam old(params, options);
  for (int step = 0; step < 3; ++step) {
    const auto g = make_gradients(params, step);
    for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = g[i];
    old.step();
  }
  FusedAdam fused(params, options);
  load(fused, saved(old));
  torch::optim::Adam back(params, options);
  load(back, saved(fused));
  for (auto* optimizer : std::vector<torch::optim::Optimizer*>{&fused, &back}) {
    ASSERT_EQ(optimizer->state().size(), params.size());
    for (const auto& p : params) {
      const auto key = c10::guts::to_string(p.unsafeGetTensorImpl());
      const auto& ours = static_cast<torch::optim::AdamParamState&>(*optimizer->state().at(key));
      const auto& theirs = static_cast<torch::optim::AdamParamState&>(*old.state().at(key));
      EXPECT_EQ(ours.step(), 3);
      EXPECT_TRUE(ours.exp_avg().equal(theirs.exp_avg()));
      EXPECT_TRUE(ours.exp_avg_sq().equal(theirs.exp_avg_sq()));
    }
  }
}

}  // namespace
}  // namespace octrain::methods
