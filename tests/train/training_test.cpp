#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <set>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/train/checkpoint.h"
#include "octrain/train/trainer.h"
#include "octrain/util/directory_lock.h"
#include "octrain/util/error.h"
#include "run_helpers.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

using testing::fresh_dir;
using testing::read_records;

using testing::quiet;

// Records without wall-clock fields, which legitimately differ between runs.
std::vector<nlohmann::json> timeless(std::vector<nlohmann::json> records) {
  for (auto& r : records)
    for (const char* key : {"step_time_ms", "mean_step_ms", "epoch_time_s"}) r.erase(key);
  return records;
}

double first_step_loss(const fs::path& dir) {
  for (const auto& r : read_records(dir))
    if (r["kind"] == "step") return r["loss"].get<double>();
  return std::nan("");
}

struct Baseline {
  std::string method;
  std::map<std::string, std::string> options;
};

const std::vector<Baseline> kBaselines = {
    {"sgd", {{"lr", "0.1"}, {"momentum", "0.9"}}},
    {"adagrad", {{"lr", "0.05"}}},
    {"rmsprop", {{"lr", "0.001"}}},
    {"adam", {{"lr", "0.001"}}},
};

TEST(Training, EveryBaselineReducesTheLossOnWine) {
  if (!testing::installed("wine"))
    GTEST_SKIP() << "wine is not installed (run scripts/install_data.sh)";
  for (const auto& b : kBaselines) {
    const auto dir = fresh_dir(b.method);
    const auto result = run_training(testing::wine_config(dir, b.method, b.options), quiet());
    const double initial = first_step_loss(dir);
    EXPECT_LT(result.final_train_loss, 0.5 * initial) << b.method;
    EXPECT_GT(result.test.accuracy, 0.85) << b.method;
  }
}

TEST(Training, EveryBaselineReducesTheLossOnTheToy) {
  for (const auto& b : kBaselines) {
    const auto dir = fresh_dir(b.method);
    auto config = testing::toy_config(dir);
    config.method = b.method;
    config.method_options = b.options;
    config.epochs = 10;
    const auto result = run_training(config, quiet());
    EXPECT_LT(result.final_train_loss, 0.8 * first_step_loss(dir)) << b.method;
  }
}

TEST(Training, SameSeedGivesIdenticalMetrics) {
  const auto a = fresh_dir("a"), b = fresh_dir("b");
  run_training(testing::toy_config(a), quiet());
  run_training(testing::toy_config(b), quiet());
  EXPECT_EQ(timeless(read_records(a)), timeless(read_records(b)));
  auto other = testing::toy_config(fresh_dir("c"));
  other.seed = 1;
  run_training(other, quiet());
  EXPECT_NE(timeless(read_records(a)), timeless(read_records(other.out)));
}

// The controls a run directory's checkpoint holds, loaded into `model` (the toy's by default).
std::vector<torch::Tensor> final_weights(const fs::path& dir, const std::string& model,
                                         const std::vector<int64_t>& input) {
  auto network = control::build_network(model, input);
  load_network_from_checkpoint((dir / "checkpoint.pt").string(), *network);
  return network->controls();
}

void expect_equal_weights(const fs::path& a, const fs::path& b,
                          const std::string& model = testing::toy_config("").model,
                          const std::vector<int64_t>& input = {1}) {
  const auto wa = final_weights(a, model, input), wb = final_weights(b, model, input);
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(wa[i].equal(wb[i])) << "control " << i;
}

// Trains `config(whole)` uninterrupted, and `config(split)` stopped after its first step (exit
// code kInterrupted) and resumed from its checkpoint.
void train_whole_and_interrupted(const std::function<RunConfig(const fs::path&)>& config,
                                 const fs::path& whole, const fs::path& split) {
  run_training(config(whole), quiet());
  request_stop();  // honoured after the first step
  try {
    run_training(config(split), quiet());
    FAIL() << "expected an interruption";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kInterrupted);
  }
  RunOptions resume = quiet();
  resume.resume = true;
  run_training(config(split), resume);
}

TEST(Training, ResumeAtAnEpochBoundaryIsBitExact) {
  const auto whole = fresh_dir("whole"), split = fresh_dir("split");
  auto config = testing::toy_config(whole);
  config.epochs = 2;
  run_training(config, quiet());

  auto first = testing::toy_config(split);
  first.epochs = 1;
  run_training(first, quiet());
  auto rest = first;
  rest.epochs = 2;
  RunOptions resume = quiet();
  resume.resume = true;
  run_training(rest, resume);

  EXPECT_EQ(timeless(read_records(whole)), timeless(read_records(split)));
  expect_equal_weights(whole, split);
}

TEST(Training, InterruptedRunResumesMidEpochBitExactly) {
  const auto whole = fresh_dir("whole"), split = fresh_dir("split");
  train_whole_and_interrupted(testing::toy_config, whole, split);
  EXPECT_EQ(timeless(read_records(whole)), timeless(read_records(split)));
  expect_equal_weights(whole, split);
}

// msa-discrete's α schedule counts steps across epochs and checkpoints: interrupted after the
// first step of a run whose decay period (7) does not divide its epochs (8 steps), the resumed run
// logs the same α per epoch and ends with the same weights.
TEST(Training, MsaDiscreteStepScheduleResumesMidEpochBitExactly) {
  if (!testing::installed("digits"))
    GTEST_SKIP() << "digits is not installed (run scripts/install_data.sh)";
  const auto config = [](const fs::path& dir) {
    RunConfig c;
    c.dataset = "digits";
    c.model = "tmlp:64-16-10";
    c.loss = "squared-hinge";
    c.method = "msa-discrete";
    c.method_options = {{"alpha", "0.9"}, {"decay", "0.5"}, {"decay_every", "7"}};
    c.epochs = 3;
    c.batch_size = 100;
    c.train_limit = 800;
    c.threads = 1;
    c.out = dir.string();
    return c;
  };
  const auto whole = fresh_dir("whole"), split = fresh_dir("split");
  train_whole_and_interrupted(config, whole, split);
  const auto records = timeless(read_records(whole));
  EXPECT_EQ(records, timeless(read_records(split)));
  // α per epoch: 24 steps in epochs of 8, one decay per 7 steps → ⌊8/7⌋, ⌊16/7⌋, ⌊24/7⌋ decays.
  std::vector<double> alphas;
  for (const auto& r : records)
    if (r["kind"] == "epoch") alphas.push_back(r["alpha"].get<double>());
  ASSERT_EQ(alphas.size(), 3u);
  for (int e = 0; e < 3; ++e)
    EXPECT_NEAR(alphas[size_t(e)], 1 - 0.1 * std::pow(0.5, (8 * (e + 1)) / 7), 1e-15);
  expect_equal_weights(whole, split, config(whole).model, {64});
}

// DDPNOpt's sampled terminal factor draws labels from torch's generator at every step: a run
// interrupted after its first step and resumed from the checkpoint (which saves the generator)
// draws the same labels and ends with the same records and weights.
TEST(Training, DdpnoptSampledFactorResumesMidEpochBitExactly) {
  const auto config = [](const fs::path& dir) {
    auto c = testing::wine_config(dir, "ddpnopt", {{"curvature", "identity"}, {"lr", "0.3"}});
    c.model = "mlp:13-8-8-3:tanh";
    c.epochs = 2;
    c.batch_size = 16;
    return c;
  };
  if (!testing::installed("wine")) GTEST_SKIP() << "wine is not installed";
  const auto whole = fresh_dir("whole"), split = fresh_dir("split");
  train_whole_and_interrupted(config, whole, split);
  EXPECT_EQ(timeless(read_records(whole)), timeless(read_records(split)));
  expect_equal_weights(whole, split, config(whole).model, {13});
}

TEST(Training, RefusesToOverwriteARun) {
  const auto dir = fresh_dir();
  run_training(testing::toy_config(dir), quiet());
  EXPECT_THROW(run_training(testing::toy_config(dir), quiet()), UsageError);
}

TEST(Training, ASecondWriterOfTheSameRunIsRefused) {
  const auto dir = fresh_dir();
  {
    const DirectoryLock other_run(dir.string());  // as if another process trained here now
    try {
      run_training(testing::toy_config(dir), quiet());
      FAIL() << "two writers of one run directory";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("another octrain process is writing this run (pid "),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_NO_THROW(run_training(testing::toy_config(dir), quiet()));  // free again
}

TEST(Training, DivergenceStopsWithStepAndStage) {
  auto config = testing::toy_config(fresh_dir());
  config.method = "sgd";
  config.method_options = {{"lr", "1e30"}};
  try {
    run_training(config, quiet());
    FAIL() << "expected divergence";
  } catch (const DivergenceError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("diverged at epoch 1 step"), std::string::npos) << message;
    EXPECT_NE(message.find("stage"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(fs::path(config.out) / "checkpoint.pt"));
}

TEST(Training, DivergenceRollbackRecoversWithASmallerStep) {
  auto config = testing::toy_config(fresh_dir());
  config.method = "sgd";
  config.method_options = {{"lr", "1e30"}};
  config.on_divergence = "rollback";
  config.rollback_factor = 1e-31;
  const auto result = run_training(config, quiet());
  EXPECT_TRUE(std::isfinite(result.final_train_loss));
  int rollbacks = 0;
  std::set<int64_t> steps;
  for (const auto& r : read_records(config.out)) {
    rollbacks += r["kind"] == "rollback";
    if (r["kind"] == "step")
      EXPECT_TRUE(steps.insert(r["step"].get<int64_t>()).second) << "duplicate step";
  }
  EXPECT_EQ(rollbacks, 1);
  EXPECT_NEAR(result.epochs.back()["lr_scale"].get<double>(), 1e-31, 1e-40);
}

TEST(Training, StepSizeScaleSurvivesResume) {
  auto rollback_config = [](const fs::path& dir) {
    auto c = testing::toy_config(dir);
    c.method = "sgd";
    c.method_options = {{"lr", "1e30"}};
    c.on_divergence = "rollback";
    c.rollback_factor = 1e-31;
    c.epochs = 3;
    return c;
  };
  const auto whole = fresh_dir("whole"), split = fresh_dir("split");
  run_training(rollback_config(whole), quiet());
  auto first = rollback_config(split);
  first.epochs = 1;
  run_training(first, quiet());
  RunOptions resume = quiet();
  resume.resume = true;
  run_training(rollback_config(split), resume);
  expect_equal_weights(whole, split);
}

TEST(Training, ResumeCannotShortenARun) {
  const auto dir = fresh_dir();
  run_training(testing::toy_config(dir), quiet());
  auto shorter = testing::toy_config(dir);
  shorter.epochs = 2;
  RunOptions resume = quiet();
  resume.resume = true;
  EXPECT_THROW(run_training(shorter, resume), UsageError);
}

TEST(Training, BatchNormRefusesSingleSampleBatches) {
  auto config = testing::toy_config(fresh_dir());
  config.model = "mlp:1-4-1:tanh:bn=true";
  config.batch_size = 1;
  EXPECT_THROW(run_training(config, quiet()), UsageError);
}

// Found by the run_config fuzzer (its seed strings.toml, fuzz/make_corpus.py): a value with a
// newline or another control character wrote a config.toml that TOML refuses, so --resume failed.
TEST(RunConfig, TomlRoundTripEscapesControlCharacters) {
  RunConfig c;
  c.set("model", "mlp:\n1-2");
  c.set("out",
        "runs/a\"b\\c\td\x01"
        "e\x7f\rf");
  c.set("dataset", "csv:x.csv?label=first");
  const auto path = (fresh_dir() / "c.toml").string();
  std::ofstream(path) << c.to_toml();
  RunConfig d;
  d.merge_toml_file(path);
  EXPECT_EQ(d.model, c.model);
  EXPECT_EQ(d.out, c.out);
  EXPECT_EQ(d.to_toml(), c.to_toml());
}

TEST(RunConfig, TomlRoundTripAndErrors) {
  RunConfig c;
  c.set("method", "sgd:lr=0.3,momentum=0.9");
  c.set("epochs", "7");
  c.set("weight_decay", "1e-4");
  const auto dir = fresh_dir();
  const auto path = (dir / "c.toml").string();
  std::ofstream(path) << c.to_toml();
  RunConfig d;
  d.merge_toml_file(path);
  EXPECT_EQ(d.to_toml(), c.to_toml());
  EXPECT_EQ(d.method_options.at("momentum"), "0.9");
  auto message = [&](const std::string& key, const std::string& value) {
    try {
      RunConfig e;
      e.set(key, value);
    } catch (const UsageError& err) {
      return std::string(err.what());
    }
    return std::string();
  };
  EXPECT_NE(message("epochs", "-1").find("'epochs'"), std::string::npos);
  EXPECT_NE(message("batch_size", "many").find("'batch_size'"), std::string::npos);
  EXPECT_NE(message("colour", "red").find("unknown config key 'colour'"), std::string::npos);
  EXPECT_EQ(message("checkpoint_every", "0"), "");  // 0: time-based
}

}  // namespace
}  // namespace octrain::train
