#include "octrain/control/terminal_loss.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include "octrain/util/error.h"

namespace octrain::control {
namespace {

void expect_costate_is_negative_gradient(const TerminalLoss& loss, const torch::Tensor& y,
                                         int64_t dim) {
  torch::manual_seed(5);
  auto z = torch::randn({4, dim}, torch::kFloat64).requires_grad_(true);
  auto evaluation = loss.evaluate(z, y, true);
  evaluation.value.backward();
  EXPECT_TRUE(torch::allclose(evaluation.costate, -z.grad(), 1e-10, 1e-12)) << loss.name();
}

TEST(TerminalLoss, CostateIsNegativeGradientOfBatchMean) {
  const auto labels = torch::tensor({0, 2, 1, 2});
  expect_costate_is_negative_gradient(CrossEntropyLoss(), labels, 3);
  expect_costate_is_negative_gradient(SquaredHingeLoss(), labels, 3);
  expect_costate_is_negative_gradient(MaxMahalanobisLoss(3, 4, 2.0), labels, 4);
  expect_costate_is_negative_gradient(MeanSquaredErrorLoss(), torch::randn({4, 2}, torch::kFloat64),
                                      2);
}

TEST(TerminalLoss, KnownValues) {
  const auto z = torch::tensor({{0.0, 0.0}, {2.0, -1.0}});
  const auto y = torch::tensor({0, 1});
  // CE: row 0 log 2; row 1: log(1 + e^{3}).
  EXPECT_NEAR(CrossEntropyLoss().evaluate(z, y, false).value.item<double>(),
              (std::log(2.0) + std::log(1 + std::exp(3.0))) / 2, 1e-6);
  // Hinge: ỹ = [[1,-1],[-1,1]]; margins [1,1],[3,2] → (1+1+9+4)/4.
  EXPECT_NEAR(SquaredHingeLoss().evaluate(z, y, false).value.item<double>(), 15.0 / 4, 1e-6);
  EXPECT_NEAR(MeanSquaredErrorLoss()
                  .evaluate(torch::tensor({{1.0}, {3.0}}), torch::tensor({{0.0}, {1.0}}), false)
                  .value.item<double>(),
              2.5, 1e-6);
}

TEST(TerminalLoss, MaxMahalanobisCentresAreEquiangular) {
  MaxMahalanobisLoss loss(10, 12, 5.0);
  const auto mu = loss.centres().to(torch::kFloat64);
  const auto gram = mu.mm(mu.t());
  for (int i = 0; i < 10; ++i)
    for (int j = 0; j < 10; ++j)
      EXPECT_NEAR(gram[i][j].item<double>(), i == j ? 25.0 : -25.0 / 9, 1e-4) << i << "," << j;
  EXPECT_TRUE(loss.predict_class(loss.centres()).equal(torch::arange(10)));
  EXPECT_THROW(MaxMahalanobisLoss(10, 5, 1.0), UsageError);
}

TEST(TerminalLoss, FactoryChecksNamesAndShapes) {
  EXPECT_EQ(make_terminal_loss("ce", 3, 3)->name(), "cross-entropy");
  EXPECT_THROW(make_terminal_loss("hingey", 3, 3), UsageError);
  EXPECT_THROW(make_terminal_loss("mmc:scale=-1", 3, 3), UsageError);
  EXPECT_THROW(make_terminal_loss("ce", 3, 3)->check_output(4, 3), UsageError);
  EXPECT_THROW(make_terminal_loss("mse", 0, 1)->check_output(1, 3), UsageError);
}

}  // namespace
}  // namespace octrain::control
