// msa-discrete and the quantised baselines (BinaryConnect, BWN, TWN): M_t against closed forms
// and autograd, the straight-through step against the sweep's gradient, and save/load exactness.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/serialize.h>
#include <torch/types.h>

#include <cmath>
#include <sstream>

#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/control/discrete_controls.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/methods/discrete_msa.h"
#include "octrain/methods/quantised_gradient.h"
#include "octrain/methods/registry.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {

using control::ControlSet;

TEST(DiscreteMsa, DenseMEqualsSumOfCostateTimesState) {
  torch::manual_seed(5);
  control::Network net({6});
  net.append(std::make_shared<control::DenseStage>(6, 4, false, ControlSet::kTernary));
  net.stage(0).set_running_cost({0.0, 1e-3});
  control::MeanSquaredErrorLoss loss;
  const auto x = torch::randn({9, 6}), y = torch::randn({9, 4});
  auto trajectory = net.rollout(x);
  net.sweep(trajectory, loss, y);
  // ∂(Σ_s H)/∂θ = M − λ sign θ, so M = Σ_s p_{s,1} x_{s,0}ᵀ.
  const auto theta = net.stage(0).controls().front();
  const auto M = trajectory.hamiltonian_gradients[0][0] + 1e-3 * theta.sign();
  EXPECT_TRUE(torch::allclose(M, torch::mm(trajectory.costates[1].t(), x), 1e-5, 1e-6));
}

TEST(DiscreteMsa, ConvMEqualsAutograd) {
  torch::manual_seed(6);
  control::Conv2dStage conv(2, 3, 3, 1, 1, false, ControlSet::kBinary);
  conv.scale.copy_(torch::rand({3}) + 0.5);  // a BWN-style output scale is part of f
  const auto x = torch::randn({4, 2, 5, 5});
  const auto y = conv.forward(x);
  const auto p = torch::randn_like(y);
  const auto M = conv.vjp(x, y, p, false, nullptr).control_grads[0];
  // Independent: Σ_s p·(α ⊙ (θ ⋆ x)) differentiated by autograd with θ as a fresh leaf.
  auto theta = conv.weight.detach().clone().requires_grad_(true);
  const auto h = (p * torch::conv2d(x, theta, {}, 1, 1) * conv.scale.view({1, 3, 1, 1})).sum();
  const auto expected = torch::autograd::grad({h}, {theta})[0];
  EXPECT_TRUE(torch::allclose(M, expected, 1e-5, 1e-5));
}

struct Batch {
  torch::Tensor x, y;
};
Batch make_batch(int64_t n, int64_t in, int64_t classes) {
  return {torch::randn({n, in}), torch::randint(classes, {n}, torch::kLong)};
}

TEST(DiscreteMsa, StepsKeepWeightsInTheSetReportFlipsAndResumeExactly) {
  torch::manual_seed(7);
  auto net = control::build_network("tmlp:12-16x2-3", {12});
  auto twin = control::build_network("tmlp:12-16x2-3", {12});
  control::SquaredHingeLoss loss;
  // A step schedule whose period (2) the 5 steps before the save do not fill: the step count is
  // state, or the twin would decay α one step late.
  const std::string spec = "msa-discrete:alpha=0.9,decay=0.5,decay_every=2";
  auto method = make_method(spec, *net);
  const auto batch = make_batch(20, 12, 3);
  double flips = 0;
  for (int i = 0; i < 5; ++i)
    flips += method->step(*net, loss, batch.x, batch.y).extras.at("flips");
  EXPECT_GT(flips, 0);
  for (size_t t = 0; t < net->size(); ++t)
    if (net->stage(t).control_set() != ControlSet::kReal)
      EXPECT_TRUE(control::in_control_set(net->stage(t).controls().front(), ControlSet::kTernary));
  EXPECT_FALSE(control::nonzero_fractions(*net).empty());

  // Save the method state and the weights, continue both copies: identical trajectories.
  torch::serialize::OutputArchive state;
  method->save(state);
  std::stringstream bytes;
  state.save_to(bytes);
  for (size_t i = 0; i < net->parameters().size(); ++i)
    twin->parameters()[i].detach().copy_(net->parameters()[i]);
  for (size_t i = 0; i < net->buffers().size(); ++i) twin->buffers()[i].copy_(net->buffers()[i]);
  auto resumed = make_method(spec, *twin);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  resumed->load(in);
  method->end_epoch(0), resumed->end_epoch(0);
  for (int i = 0; i < 3; ++i) {
    const auto a = method->step(*net, loss, batch.x, batch.y);
    const auto b = resumed->step(*twin, loss, batch.x, batch.y);
    EXPECT_EQ(a.loss, b.loss);
    EXPECT_EQ(a.extras.at("alpha"), b.extras.at("alpha"));
  }
  EXPECT_EQ(method->epoch_extras(), resumed->epoch_extras());
  for (size_t i = 0; i < net->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(net->parameters()[i], twin->parameters()[i]));
}

// 1 − α after `decays` decays by d from α₀, in closed form.
double closed_form_alpha(double alpha0, double d, int64_t decays) {
  return 1 - (1 - alpha0) * std::pow(d, double(decays));
}

TEST(DiscreteMsa, AlphaAfterKStepsHasTheClosedForm) {
  torch::manual_seed(8);
  auto net = control::build_network("bmlp:4-4-2", {4});
  control::SquaredHingeLoss loss;
  const auto batch = make_batch(6, 4, 2);
  // Steps: (1 − α) shrinks by d once every N steps, whatever the epochs: after k steps
  // α = 1 − (1 − α₀) d^⌊k/N⌋, and step k (1-based) runs at α = 1 − (1 − α₀) d^⌊(k−1)/N⌋.
  DiscreteMsa steps(
      DiscreteMsa::schema().parse({{"alpha", "0.9"}, {"decay", "0.5"}, {"decay_every", "3"}}),
      *net);
  for (int64_t k = 1; k <= 10; ++k) {
    const double used = steps.step(*net, loss, batch.x, batch.y).extras.at("alpha");
    EXPECT_NEAR(used, closed_form_alpha(0.9, 0.5, (k - 1) / 3), 1e-15) << "step " << k;
    if (k % 4 == 0) steps.end_epoch(k / 4 - 1);  // epochs of 4 steps change nothing
    EXPECT_NEAR(steps.alpha(), closed_form_alpha(0.9, 0.5, k / 3), 1e-15) << "after step " << k;
  }
  EXPECT_EQ(steps.steps(), 10);
  EXPECT_EQ(steps.epoch_extras().at("alpha"), steps.alpha());
  // Epochs: after e epochs α = 1 − (1 − α₀) d^e, however many steps each epoch had.
  DiscreteMsa epochs(
      DiscreteMsa::schema().parse({{"alpha", "0.9"}, {"decay", "0.5"}, {"decay_every", "epoch"}}),
      *net);
  for (int64_t e = 0; e < 3; ++e) {
    for (int64_t s = 0; s < 5 + e; ++s) {
      EXPECT_NEAR(epochs.step(*net, loss, batch.x, batch.y).extras.at("alpha"),
                  closed_form_alpha(0.9, 0.5, e), 1e-15);
    }
    epochs.end_epoch(e);
    EXPECT_NEAR(epochs.alpha(), closed_form_alpha(0.9, 0.5, e + 1), 1e-15);
  }
  // The default period is the reference's epoch: 550 steps of batch 100 on 55k MNIST.
  DiscreteMsa defaults(DiscreteMsa::schema().parse({}), *net);
  for (int64_t k = 0; k < 549; ++k) defaults.step(*net, loss, batch.x, batch.y);
  EXPECT_EQ(defaults.alpha(), 0.999);
  defaults.step(*net, loss, batch.x, batch.y);
  EXPECT_NEAR(defaults.alpha(), closed_form_alpha(0.999, 0.95, 1), 1e-15);
}

TEST(DiscreteMsa, AlphaDecaysPerEpochAndFloat32Stalls) {
  torch::manual_seed(8);
  auto net = control::build_network("bmlp:4-4-2", {4});
  DiscreteMsa exact(
      DiscreteMsa::schema().parse({{"alpha", "0.9"}, {"decay", "0.5"}, {"decay_every", "epoch"}}),
      *net);
  exact.end_epoch(0);
  EXPECT_DOUBLE_EQ(exact.alpha(), 1 - 0.1 * 0.5);
  DiscreteMsa reference(
      DiscreteMsa::schema().parse(
          {{"alpha", "0.999"}, {"alpha_float32", "true"}, {"decay_every", "epoch"}}),
      *net);
  for (int e = 0; e < 400; ++e) reference.end_epoch(e);
  // Below 1 floats are 2⁻²⁴ apart; 1 − n·2⁻²⁴ stops moving once n·(1 − d) < ½, i.e. n = 10:
  // the reference's 0.9999994.
  EXPECT_EQ(reference.alpha(), 1.0 - 10 * std::ldexp(1.0, -24));
}

TEST(DiscreteMsa, StateWithoutAStepCountNeedsTheEpochSchedule) {
  auto net = control::build_network("bmlp:4-4-2", {4});
  torch::serialize::OutputArchive old;  // what checkpoints before decay_every held first
  old.write("alpha", torch::tensor(0.9995, torch::kFloat64));
  std::stringstream bytes;
  old.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  auto method = make_method("msa-discrete", *net);
  try {
    method->load(in);
    FAIL() << "a step count was invented";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("decay_every = \"epoch\""), std::string::npos) << e.what();
  }
}

TEST(DiscreteMsa, BadModelsAndOptionsAreUsageErrors) {
  auto real = control::build_network("mlp:4-4-2", {4});
  EXPECT_THROW(make_method("msa-discrete", *real), UsageError);
  EXPECT_THROW(make_method("twn", *real), UsageError);
  auto binary = control::build_network("bmlp:4-4-2", {4});
  EXPECT_THROW(make_method("twn", *binary), UsageError);
  EXPECT_THROW(make_method("msa-discrete:rho_binary=2", *binary), UsageError);
  for (const char* every : {"0", "-3", "1.5", "epochs", "", "10000000000"})
    EXPECT_THROW(make_method(std::string("msa-discrete:decay_every=") + every, *binary), UsageError)
        << every;
  auto ternary = control::build_network("tmlp:4-4-2", {4});
  EXPECT_THROW(make_method("binaryconnect", *ternary), UsageError);
  EXPECT_THROW(make_method("bwn:optimizer=lbfgs", *binary), UsageError);
}

// Brute-force quantisers, row by row.
void expect_quantised(const std::string& name, const torch::Tensor& w, const torch::Tensor& theta,
                      const torch::Tensor& scale) {
  for (int64_t i = 0; i < w.size(0); ++i) {
    const auto row = w[i];
    const auto expected_sign = torch::where(row.ge(0), torch::ones({}), -torch::ones({}));
    if (name == "twn") {
      const double delta = 0.7 * row.abs().mean().item<double>();
      double kept = 0, count = 0;
      for (int64_t j = 0; j < row.size(0); ++j) {
        const double v = row[j].item<double>();
        const double q = std::abs(v) > delta ? (v >= 0 ? 1 : -1) : 0;
        EXPECT_EQ(theta[i][j].item<double>(), q);
        if (q != 0) kept += std::abs(v), count += 1;
      }
      EXPECT_NEAR(scale[i].item<double>(), kept / count, 1e-6);
    } else {
      EXPECT_TRUE(torch::equal(theta[i], expected_sign));
      const double alpha = name == "bwn" ? row.abs().mean().item<double>() : 1.0;
      EXPECT_NEAR(scale[i].item<double>(), alpha, 1e-6);
    }
  }
}

TEST(QuantisedGradient, StraightThroughStepMatchesTheSweepGradient) {
  for (const std::string name : {"binaryconnect", "bwn", "twn"}) {
    SCOPED_TRACE(name);
    torch::manual_seed(9);
    auto net = control::build_network(name == "twn" ? "tmlp:6-5-3" : "bmlp:6-5-3", {6});
    control::CrossEntropyLoss loss;
    auto method = make_method(name + ":optimizer=sgd,lr=0.5", *net);
    auto& quantised = dynamic_cast<QuantisedGradient&>(*method);
    auto& dense = dynamic_cast<control::DenseStage&>(net->stage(0));
    const auto w0 = quantised.latent_weights(0).detach().clone();
    expect_quantised(name, w0, dense.weight, dense.scale);
    const auto batch = make_batch(10, 6, 3);
    auto trajectory = net->rollout(batch.x);
    net->sweep(trajectory, loss, batch.y);
    const auto dJ = -trajectory.hamiltonian_gradients[0][0];
    method->step(*net, loss, batch.x, batch.y);
    auto expected = w0 - 0.5 * dJ;
    if (name == "binaryconnect") expected = expected.clamp(-1, 1);
    const auto w1 = quantised.latent_weights(0);
    EXPECT_TRUE(torch::allclose(w1, expected, 1e-6, 1e-6));
    expect_quantised(name, w1, dense.weight, dense.scale);
  }
}

}  // namespace
}  // namespace octrain::methods
