// Divergence: the loss-growth rule, and rollbacks that restore the method's whole state.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>
#include <random>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/method.h"
#include "octrain/methods/registry.h"
#include "octrain/train/checkpoint.h"
#include "octrain/train/loss_growth.h"
#include "octrain/train/trainer.h"
#include "octrain/util/error.h"
#include "run_helpers.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

using testing::fresh_dir;
using testing::quiet;
using testing::read_records;

TEST(LossGrowth, TripsOnAGrowingLoss) {
  LossGrowth growth;
  double loss = 1.0;
  int tripped_at = -1;
  for (int k = 0; k < 200 && tripped_at < 0; ++k) {
    growth.observe(loss *= 1.2);
    if (growth.grown_past(10)) tripped_at = k;
  }
  // 1.2^k passes 10 × the start at k ≈ 13; the average lags a few steps behind.
  EXPECT_GT(tripped_at, 10);
  EXPECT_LT(tripped_at, 30);
  EXPECT_NE(growth.describe().find("running minimum"), std::string::npos) << growth.describe();
  EXPECT_FALSE(growth.grown_past(0)) << "0 switches the rule off";
}

TEST(LossGrowth, ANoisyButDecreasingLossDoesNotTripIt) {
  // Log-normal minibatch noise (σ = 0.5 in log space), a single batch 8 × too high every 37
  // steps, and a slow descent from 2.3 to 0.01.
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 0.5);
  LossGrowth growth;
  for (int k = 0; k < 3000; ++k) {
    double loss = 2.3 * std::exp(-double(k) / 550) * std::exp(noise(rng));
    if (k % 37 == 36) loss *= 8;
    growth.observe(loss);
    ASSERT_FALSE(growth.grown_past(10)) << "step " << k << ": " << growth.describe();
  }
  EXPECT_LT(growth.max_ratio, 5);
}

TEST(LossGrowth, ABumpNearZeroLossStaysBelowTheStart) {
  LossGrowth growth;
  for (int k = 0; k < 100; ++k) growth.observe(1.0 * std::pow(0.9, k));  // down to 3e-5
  for (int k = 0; k < 100; ++k) growth.observe(0.05);  // 1000 × the minimum, below the start
  EXPECT_GT(growth.max_ratio, 100);
  EXPECT_FALSE(growth.grown_past(10));
  for (int k = 0; k < 100; ++k) growth.observe(5.0);  // above the start: diverged
  EXPECT_TRUE(growth.grown_past(10));
}

TEST(LossGrowth, AZeroMinimumIsNoReference) {
  LossGrowth growth;  // e.g. a squared hinge loss that reached 0 on every batch
  growth.observe(0.0);
  growth.observe(3.0);
  EXPECT_FALSE(growth.grown_past(10));
}

// A tanh net whose loss blows up but stays finite: before the rule the run "succeeded".
TEST(Divergence, AFiniteBlowUpOfTheLossStopsTheRun) {
  if (!testing::installed("wine")) GTEST_SKIP() << "wine is not installed";
  auto blow_up = [](const fs::path& dir) {
    auto c = testing::wine_config(dir, "sgd", {{"lr", "1e3"}});
    c.model = "mlp:13-32-32-3:tanh";
    return c;
  };
  const auto config = blow_up(fresh_dir());
  try {
    run_training(config, quiet());
    FAIL() << "expected divergence";
  } catch (const DivergenceError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("training diverged at epoch 1 step "), std::string::npos) << message;
    EXPECT_NE(message.find("running minimum"), std::string::npos) << message;
    EXPECT_NE(message.find("(divergence_factor 10)"), std::string::npos) << message;
  }
  auto off = blow_up(fresh_dir("off"));
  off.divergence_factor = 0;
  const auto result = run_training(off, quiet());  // only non-finite values count
  EXPECT_TRUE(std::isfinite(result.final_train_loss));
  EXPECT_GT(result.final_train_loss, 100);
}

struct Family {
  std::string name;
  std::string method;
  std::map<std::string, std::string> options;  // a step size that diverges
};

void PrintTo(const Family& family, std::ostream* out) {
  *out << family.name;
}

std::string family_name(const ::testing::TestParamInfo<Family>& info) {
  return info.param.name;
}

const std::vector<Family>& families() {
  static const std::vector<Family> f = {
      {"Sgd", "sgd", {{"lr", "100"}, {"momentum", "0.9"}}},
      {"Adagrad", "adagrad", {{"lr", "1e4"}}},
      {"Rmsprop", "rmsprop", {{"lr", "10"}}},
      {"Adam", "adam", {{"lr", "100"}}},
      {"Kfac", "kfac", {{"lr", "1e4"}, {"kl_clip", "0"}}},
      // lr 100 would roll back to 0.1, where DDPNOpt's diagonal curvature is chaotic on this net:
      // whether it then ends below its first loss turned on rounding.
      {"Ddpnopt", "ddpnopt", {{"lr", "10"}}},
  };
  return f;
}

// With the discrete baselines too (their latent weights are clipped, so they do not overflow).
const std::vector<Family>& families_and_discrete() {
  static const std::vector<Family> f = [] {
    auto all = families();
    all.push_back({"BinaryConnect", "binaryconnect", {{"lr", "100"}}});
    return all;
  }();
  return f;
}

std::unique_ptr<methods::Method> make(const Family& f, control::Network& network) {
  return methods::make_method(f.method, f.options, network);
}

class Restore : public ::testing::TestWithParam<Family> {};
class Rollback : public ::testing::TestWithParam<Family> {};

// The snapshot of a method that had not stepped is empty; restoring it must still clear the
// moments and factors the diverged steps left. A ReLU net at lr 1e30 overflows within a few
// steps, so NaNs reach the method's state.
TEST_P(Restore, ASnapshotLeavesNoNonFiniteMethodState) {
  Family family = GetParam();
  family.options["lr"] = "1e30";
  torch::manual_seed(0);
  auto network = control::build_network("mlp:4-16-16-3:relu", {4});
  auto loss = control::make_terminal_loss("cross-entropy", 3, 3);
  const auto x = torch::randn({32, 4}) * 3;
  const auto y = torch::randint(0, 3, {32});
  auto method = make(family, *network);
  const std::string snapshot = checkpoint_bytes(*network, *method, TrainingPosition{});
  for (int k = 0; k < 20 && nonfinite_method_state(*method).empty(); ++k)
    method->step(*network, *loss, x, y);
  ASSERT_FALSE(nonfinite_method_state(*method).empty()) << "the step size did not diverge";

  restore_snapshot(snapshot, *network, method, [&] { return make(family, *network); });
  EXPECT_EQ(nonfinite_method_state(*method), std::vector<std::string>{});
  for (const auto& theta : network->controls()) EXPECT_TRUE(theta.isfinite().all().item<bool>());
  // And the method trains on from the snapshot at a sane step.
  method->set_learning_rate_scale(1e-32);  // lr 0.01
  EXPECT_TRUE(std::isfinite(method->step(*network, *loss, x, y).loss));
  EXPECT_EQ(nonfinite_method_state(*method), std::vector<std::string>{});
}

// Through the trainer: the run diverges in epoch 1, rolls back with a smaller step and finishes
// with a finite loss below where it started.
TEST_P(Rollback, ARunThatDivergesInItsFirstEpochRecovers) {
  const Family& family = GetParam();
  const bool discrete = family.method == "binaryconnect";
  auto config = testing::wine_config(fresh_dir(), family.method, family.options);
  if (!testing::installed("wine")) GTEST_SKIP() << "wine is not installed";
  if (discrete) config.model = "bmlp:13-32-3";
  config.on_divergence = "rollback";
  config.rollback_factor = 1e-3;
  config.max_rollbacks = 4;
  config.epochs = 4;
  const auto result = run_training(config, quiet());
  EXPECT_TRUE(std::isfinite(result.final_train_loss));
  double first_loss = std::nan("");
  int rollbacks = 0;
  for (const auto& r : read_records(config.out)) {
    rollbacks += r["kind"] == "rollback";
    if (r["kind"] == "step" && std::isnan(first_loss)) first_loss = r["loss"].get<double>();
  }
  EXPECT_GE(rollbacks, 1);
  EXPECT_LT(result.final_train_loss, first_loss);
  // The method state the run ended with (and checkpointed) is finite.
  torch::manual_seed(0);
  auto network = control::build_network(config.model, {13});
  auto method = methods::make_method(config.method, config.method_options, *network);
  load_checkpoint((fs::path(config.out) / "checkpoint.pt").string(), *network, *method);
  EXPECT_EQ(nonfinite_method_state(*method), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(Families, Restore, ::testing::ValuesIn(families()), family_name);
INSTANTIATE_TEST_SUITE_P(Families, Rollback, ::testing::ValuesIn(families_and_discrete()),
                         family_name);

// With the default rollback settings, a step size some 300 times too large recovers.
TEST(Divergence, DefaultRollbackRecoversFromATooLargeStep) {
  if (!testing::installed("wine")) GTEST_SKIP() << "wine is not installed";
  auto config = testing::wine_config(fresh_dir(), "rmsprop", {{"lr", "3"}});
  config.on_divergence = "rollback";
  config.epochs = 10;
  const auto result = run_training(config, quiet());
  int rollbacks = 0;
  for (const auto& r : read_records(config.out)) rollbacks += r["kind"] == "rollback";
  EXPECT_GE(rollbacks, 1);
  EXPECT_TRUE(std::isfinite(result.final_train_loss));
  EXPECT_LT(result.final_train_loss, 0.5);
  EXPECT_GT(result.test.accuracy, 0.8);
}

TEST(Divergence, TheFactorIsARunSettingThatRoundTrips) {
  RunConfig c;
  c.set("divergence_factor", "25");
  RunConfig back;
  const auto dir = fresh_dir();
  std::ofstream(dir / "c.toml") << c.to_toml();
  back.merge_toml_file((dir / "c.toml").string());
  EXPECT_EQ(back.divergence_factor, 25);
  c.divergence_factor = 0.5;
  EXPECT_THROW(c.validate(), UsageError);
  c.divergence_factor = 0;
  EXPECT_NO_THROW(c.validate());
}

}  // namespace
}  // namespace octrain::train
