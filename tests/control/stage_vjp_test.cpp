// Every stage's vector-Jacobian products against central finite differences in double precision.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "finite_difference.h"
#include "octrain/control/activation.h"
#include "octrain/control/batch_norm.h"
#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/control/feature_map.h"
#include "octrain/control/pool.h"
#include "octrain/control/residual.h"
#include "octrain/util/error.h"

namespace octrain::control {
namespace {

struct StageCase {
  std::string label;
  std::function<std::shared_ptr<Stage>()> make;
  Shape input;
};

std::vector<StageCase> all_stages() {
  return {
      {"dense", [] { return std::make_shared<DenseStage>(5, 4); }, {5}},
      {"dense_nobias", [] { return std::make_shared<DenseStage>(5, 3, false); }, {5}},
      {"conv2d", [] { return std::make_shared<Conv2dStage>(2, 3, 3, 1, 1); }, {2, 6, 6}},
      {"conv2d_stride2", [] { return std::make_shared<Conv2dStage>(2, 3, 3, 2, 0); }, {2, 7, 7}},
      {"residual_dense",
       [] {
         return std::make_shared<ResidualStage>(std::make_shared<DenseStage>(4, 4),
                                                Activation::kTanh, 0.25);
       },
       {4}},
      {"residual_conv",
       [] {
         return std::make_shared<ResidualStage>(std::make_shared<Conv2dStage>(2, 2, 3, 1, 1),
                                                Activation::kTanh, 0.5);
       },
       {2, 5, 5}},
      {"tanh", [] { return std::make_shared<ActivationStage>(Activation::kTanh); }, {6}},
      {"relu", [] { return std::make_shared<ActivationStage>(Activation::kRelu); }, {6}},
      {"sigmoid", [] { return std::make_shared<ActivationStage>(Activation::kSigmoid); }, {6}},
      {"softplus", [] { return std::make_shared<ActivationStage>(Activation::kSoftplus); }, {6}},
      {"erf", [] { return std::make_shared<ActivationStage>(Activation::kErf); }, {6}},
      {"identity", [] { return std::make_shared<ActivationStage>(Activation::kIdentity); }, {6}},
      {"avgpool", [] { return std::make_shared<PoolStage>(PoolType::kAverage, 2); }, {2, 4, 4}},
      {"maxpool", [] { return std::make_shared<PoolStage>(PoolType::kMax, 2); }, {2, 4, 4}},
      {"flatten", [] { return std::make_shared<FlattenStage>(); }, {2, 3, 3}},
      {"channel_mean", [] { return std::make_shared<ChannelMeanStage>(); }, {3, 4, 4}},
      {"tile", [] { return std::make_shared<TileStage>(3); }, {4}},
      {"group_sum", [] { return std::make_shared<GroupSumStage>(2); }, {6}},
      {"batchnorm1d", [] { return std::make_shared<BatchNormStage>(4); }, {4}},
      {"batchnorm2d", [] { return std::make_shared<BatchNormStage>(2); }, {2, 3, 3}},
  };
}

// gtest prints parameters with this instead of a byte dump.
std::ostream& operator<<(std::ostream& out, const StageCase& c) {
  return out << c.label;
}

class StageVjpTest : public ::testing::TestWithParam<StageCase> {};

TEST_P(StageVjpTest, MatchesFiniteDifferences) {
  torch::manual_seed(7);
  const auto& c = GetParam();
  auto stage = c.make();
  stage->to(torch::kFloat64);
  {  // Give BatchNorm non-trivial γ, β so their derivatives are exercised.
    torch::NoGradGuard no_grad;
    for (auto& theta : stage->controls()) theta.add_(0.3 * torch::randn_like(theta));
  }
  Shape batch_shape = c.input;
  batch_shape.insert(batch_shape.begin(), 3);
  const auto x = torch::randn(batch_shape, torch::kFloat64);
  Shape out_shape = stage->output_shape(c.input);
  out_shape.insert(out_shape.begin(), 3);
  const auto p = torch::randn(out_shape, torch::kFloat64);

  // Σ_s p_s · f(x_s, θ): its gradient in x is the co-state, in θ the control gradients.
  auto x_point = x.clone();
  auto hamiltonian = [&] {
    torch::NoGradGuard no_grad;
    return (p * stage->forward(x_point)).sum().item<double>();
  };

  for (bool recorded : {true, false}) {
    SCOPED_TRACE(recorded ? "with recorded graph" : "without graph");
    torch::Tensor y;
    LocalGraph graph;
    if (recorded && !stage->has_closed_form_vjp()) {
      graph = record_local_graph(*stage, x);
      y = graph.output.detach();
    } else {
      torch::NoGradGuard no_grad;
      y = stage->forward(x);
    }
    const auto vjp =
        stage->vjp(x, y, p, /*need_costate=*/true, graph.output.defined() ? &graph : nullptr);
    ASSERT_TRUE(vjp.costate.defined());
    ASSERT_EQ(vjp.costate.sizes(), x.sizes());
    ASSERT_EQ(vjp.control_grads.size(), stage->controls().size());
    for (int trial = 0; trial < 3; ++trial) {
      const auto v = torch::randn_like(x);
      const double fd = testing::directional_derivative(hamiltonian, x_point, v);
      EXPECT_NEAR((vjp.costate * v).sum().item<double>(), fd, 1e-6 * (1 + std::abs(fd))) << c.label;
    }
    auto controls = stage->controls();
    for (size_t i = 0; i < controls.size(); ++i) {
      const auto v = torch::randn_like(controls[i]);
      const double fd = testing::directional_derivative(hamiltonian, controls[i], v);
      EXPECT_NEAR((vjp.control_grads[i] * v).sum().item<double>(), fd, 1e-6 * (1 + std::abs(fd)))
          << c.label << " control " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllStages, StageVjpTest, ::testing::ValuesIn(all_stages()),
                         [](const auto& info) { return info.param.label; });

// Synchronised batch norm with a sum that stands for two ranks holding the same batch: the global
// statistics are the local ones, so outputs, VJPs (first and second order) and control gradients
// equal the unsynchronised stage's; the running variance uses the global count (2B − 1).
TEST(StageVjp, SynchronisedBatchNormOverIdenticalRanksIsLocalBatchNorm) {
  torch::manual_seed(5);
  for (const Shape& shape : {Shape{4}, Shape{2, 3, 3}}) {
    const int64_t b = 6;
    std::vector<int64_t> dims = {b};
    dims.insert(dims.end(), shape.begin(), shape.end());
    BatchNormStage local(shape[0]), synced(shape[0]);
    for (auto* s : {&local, &synced}) {
      s->to(torch::kFloat64);
      torch::NoGradGuard no_grad;
      s->gamma.copy_(torch::linspace(0.5, 1.5, shape[0]));
      s->beta.copy_(torch::linspace(-0.2, 0.3, shape[0]));
    }
    synced.synchronise({[](const torch::Tensor& x) { return 2 * x; }, [] { return 0.5; }});
    const auto x = torch::randn(dims, torch::kFloat64).requires_grad_();
    const auto v = torch::randn(dims, torch::kFloat64);
    const auto ya = local.forward(x), yb = synced.forward(x);
    EXPECT_TRUE(torch::allclose(ya, yb, 1e-12, 1e-12));
    // First and second order: ⟨v, y⟩'s gradient, then the gradient of its squared norm.
    const auto ga = torch::autograd::grad({(ya * v).sum()}, {x}, {}, true, true)[0];
    const auto gb = torch::autograd::grad({(yb * v).sum()}, {x}, {}, true, true)[0];
    EXPECT_TRUE(torch::allclose(ga, gb, 1e-10, 1e-12));
    const auto ha = torch::autograd::grad({ga.pow(2).sum()}, {x})[0];
    const auto hb = torch::autograd::grad({gb.pow(2).sum()}, {x})[0];
    EXPECT_TRUE(torch::allclose(ha, hb, 1e-9, 1e-12));
    EXPECT_TRUE(torch::allclose(local.per_sample_control_gradients(x.detach(), v),
                                synced.per_sample_control_gradients(x.detach(), v), 1e-12, 1e-12));
    EXPECT_TRUE(torch::allclose(local.running_mean, synced.running_mean, 1e-12, 1e-12));
    const double n = double(x.numel() / shape[0]);
    const auto biased = (local.running_var - 0.9) / 0.1 * (n - 1) / n;  // batch var, from local
    EXPECT_TRUE(torch::allclose(synced.running_var, 0.9 + 0.1 * biased * (2 * n) / (2 * n - 1),
                                1e-10, 1e-12));
  }
}

TEST(StageVjp, CostateIsOmittedWhenNotRequested) {
  DenseStage dense(3, 2);
  const auto x = torch::randn({4, 3});
  const auto vjp = dense.vjp(x, dense.forward(x), torch::randn({4, 2}), false, nullptr);
  EXPECT_FALSE(vjp.costate.defined());
  EXPECT_EQ(vjp.control_grads.size(), 2u);
}

TEST(StageShapes, MismatchedInputIsAnError) {
  DenseStage dense(3, 2);
  EXPECT_THROW(dense.output_shape({4}), UsageError);
  Conv2dStage conv(2, 3, 5);
  EXPECT_THROW(conv.output_shape({2, 3, 3}), UsageError);
  EXPECT_EQ(conv.output_shape({2, 9, 9}), (Shape{3, 5, 5}));
}

TEST(RunningCost, L2AndL1ValuesAndGradients) {
  DenseStage dense(2, 2);
  {
    torch::NoGradGuard no_grad;
    dense.weight.copy_(torch::tensor({{1.0, -2.0}, {0.5, 0.0}}));
    dense.bias.copy_(torch::tensor({3.0, -1.0}));
  }
  dense.set_running_cost({0.1, 0.01});
  // L = 0.05·(1+4+0.25+0+9+1) + 0.01·(1+2+0.5+0+3+1)
  EXPECT_NEAR(dense.running_cost(), 0.05 * 15.25 + 0.01 * 7.5, 1e-6);
  const auto g = dense.running_cost_gradients();
  EXPECT_TRUE(torch::allclose(g[1], torch::tensor({0.3 + 0.01, -0.1 - 0.01})));
}

}  // namespace
}  // namespace octrain::control
