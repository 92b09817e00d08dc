// Validation first: the lr schedule (values, resume), --keep best and --early-stop.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "octrain/train/checkpoint.h"
#include "octrain/train/lr_schedule.h"
#include "octrain/train/trainer.h"
#include "octrain/util/error.h"
#include "run_helpers.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

using testing::fresh_dir;

using testing::quiet;

std::vector<nlohmann::json> records_of(const fs::path& dir, const std::string& kind) {
  std::vector<nlohmann::json> out;
  std::ifstream in(dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto r = nlohmann::json::parse(line);
    if (r["kind"] == kind) {
      for (const char* key : {"step_time_ms", "mean_step_ms", "epoch_time_s"}) r.erase(key);
      out.push_back(r);
    }
  }
  return out;
}

nlohmann::json result_of(const fs::path& dir) {
  std::ifstream in(dir / "result.json");
  return nlohmann::json::parse(in);
}

TEST(LrSchedule, FactorsFollowTheGrammar) {
  EXPECT_TRUE(LrSchedule::parse("constant").constant());
  EXPECT_TRUE(LrSchedule::parse("").constant());
  const auto step = LrSchedule::parse("step:2:0.5");
  EXPECT_DOUBLE_EQ(step.factor(0, 0, 100), 1.0);
  EXPECT_DOUBLE_EQ(step.factor(50, 1, 100), 1.0);
  EXPECT_DOUBLE_EQ(step.factor(50, 2, 100), 0.5);
  EXPECT_DOUBLE_EQ(step.factor(50, 5, 100), 0.25);
  const auto cosine = LrSchedule::parse("cosine:0.1");
  EXPECT_DOUBLE_EQ(cosine.factor(0, 0, 100), 1.0);
  EXPECT_NEAR(cosine.factor(50, 0, 100), 0.55, 1e-12);
  EXPECT_NEAR(cosine.factor(100, 0, 100), 0.1, 1e-12);
  EXPECT_NEAR(cosine.factor(200, 0, 100), 0.1, 1e-12);  // past the horizon: its final value
  const auto warm = LrSchedule::parse("warmup:4,cosine");
  EXPECT_DOUBLE_EQ(warm.factor(0, 0, 100), 0.25);
  EXPECT_NEAR(warm.factor(3, 0, 100), 0.5 * (1 + std::cos(M_PI * 0.03)), 1e-12);
  EXPECT_DOUBLE_EQ(LrSchedule::parse("warmup:10").factor(20, 3, 100), 1.0);
  for (const char* bad : {"cosine:2", "step:0:0.5", "step:2", "warmup:x", "linear", "warmup:3,"})
    EXPECT_THROW(LrSchedule::parse(bad), UsageError) << bad;
}

// A run interrupted after its first step and resumed follows the schedule exactly: the same
// records (with their lr_factor) and the same weights as the uninterrupted run. The resumed run
// is given more epochs, and cosine keeps the length the run started with.
TEST(LrSchedule, ResumeMidScheduleIsBitExact) {
  for (const std::string schedule : {"warmup:3,cosine:0.1", "step:1:0.5"}) {
    const auto config = [&](const fs::path& dir) {
      auto c = testing::toy_config(dir);
      c.epochs = 2;
      c.lr_schedule = schedule;
      return c;
    };
    const auto whole = fresh_dir("whole"), split = fresh_dir("split");
    run_training(config(whole), quiet());
    request_stop();
    EXPECT_THROW(run_training(config(split), quiet()), Error);
    RunOptions resume = quiet();
    resume.resume = true;
    run_training(config(split), resume);
    const auto steps = records_of(whole, "step");
    EXPECT_EQ(steps, records_of(split, "step")) << schedule;
    EXPECT_EQ(records_of(whole, "epoch"), records_of(split, "epoch")) << schedule;
    ASSERT_GT(steps.size(), 4u);
    EXPECT_LT(steps.back()["lr_factor"].get<double>(), 0.6) << schedule;
    if (schedule[0] == 'w') EXPECT_NEAR(steps[0]["lr_factor"].get<double>(), 1.0 / 3, 1e-12);
  }
}

TEST(LrSchedule, ChangesTheRun) {
  auto plain = testing::toy_config(fresh_dir("plain"));
  auto scheduled = testing::toy_config(fresh_dir("scheduled"));
  scheduled.lr_schedule = "step:1:0.1";
  const auto a = run_training(plain, quiet()), b = run_training(scheduled, quiet());
  EXPECT_NE(a.final_train_loss, b.final_train_loss);
  EXPECT_FALSE(records_of(plain.out, "step").front().contains("lr_factor"));
}

TEST(LrSchedule, IsAConfigKey) {
  const auto dir = fresh_dir();
  const auto path = (dir / "run.toml").string();
  std::ofstream(path) << "lr_schedule = \"warmup:10,step:5:0.5\"\nvalidation_fraction = 0.1\n"
                         "keep = \"best\"\nearly_stop = 4\n";
  RunConfig config;
  config.merge_toml_file(path);
  EXPECT_EQ(config.lr_schedule, "warmup:10,step:5:0.5");
  EXPECT_EQ(config.keep, "best");
  EXPECT_EQ(config.early_stop, 4);
  config.validate();
  RunConfig again;
  std::ofstream(path) << config.to_toml();
  again.merge_toml_file(path);
  EXPECT_EQ(again.to_toml(), config.to_toml());
  std::ofstream(path) << "lr_schedule = \"cosine:x\"\n";
  EXPECT_THROW(RunConfig().merge_toml_file(path), UsageError);
}

TEST(Validation, NeedsAValidationSplit) {
  auto config = testing::toy_config(fresh_dir());
  config.early_stop = 2;
  EXPECT_THROW(config.validate(), UsageError);
  config.early_stop = 0;
  config.keep = "best";
  EXPECT_THROW(config.validate(), UsageError);
  config.keep = "everything";
  config.validation_fraction = 0.2;
  EXPECT_THROW(config.validate(), UsageError);
}

// With a large step the toy's validation loss stops improving early; the run stops after
// `early_stop` epochs without improvement, writes best.pt and reports the best epoch.
TEST(Validation, KeepBestAndEarlyStop) {
  const auto dir = fresh_dir();
  auto config = testing::toy_config(dir);
  config.validation_fraction = 0.25;
  config.epochs = 60;
  config.method_options = {{"lr", "0.05"}};
  config.keep = "best";
  config.early_stop = 3;
  const auto result = run_training(config, quiet());
  ASSERT_TRUE(result.stopped_early);
  EXPECT_TRUE(fs::exists(dir / "best.pt"));
  EXPECT_TRUE(fs::exists(dir / "checkpoint.pt"));
  const auto epochs = records_of(dir, "epoch");
  ASSERT_LT(epochs.size(), 60u);
  // The best epoch is the one with the lowest validation loss, `early_stop` epochs before the end.
  size_t best = 0;
  for (size_t i = 0; i < epochs.size(); ++i) {
    ASSERT_TRUE(epochs[i].contains("validation_loss"));
    if (epochs[i]["validation_loss"] < epochs[best]["validation_loss"]) best = i;
  }
  EXPECT_EQ(result.best_epoch, int64_t(best + 1));
  EXPECT_EQ(epochs.size(), best + 1 + 3);
  const auto summary = result_of(dir);
  EXPECT_TRUE(summary["stopped_early"].get<bool>());
  EXPECT_EQ(summary["best"]["epoch"], result.best_epoch);
  EXPECT_EQ(summary["best"]["checkpoint"], "best.pt");
  EXPECT_EQ(records_of(dir, "early_stop").size(), 1u);
  EXPECT_EQ(summary["validation_loss"].get<double>(), epochs.back()["validation_loss"]);

  // Resuming a run that stopped early trains nothing more.
  RunOptions resume = quiet();
  resume.resume = true;
  const auto again = run_training(config, resume);
  EXPECT_TRUE(again.stopped_early);
  EXPECT_EQ(records_of(dir, "epoch").size(), epochs.size());
}

// --best-metric chooses what "best" means: on a classification run, loss picks the epoch of the
// lowest validation loss and accuracy the first epoch of the highest validation accuracy.
TEST(Validation, BestMetricChoosesTheBestEpoch) {
  for (const char* metric : {"loss", "accuracy"}) {
    const auto dir = fresh_dir();
    auto config = testing::wine_config(dir, "adam", {{"lr", "0.01"}});
    config.validation_fraction = 0.3;
    config.epochs = 12;
    config.keep = "best";
    config.best_metric = metric;
    const auto result = run_training(config, quiet());
    const auto epochs = records_of(dir, "epoch");
    ASSERT_EQ(epochs.size(), 12u);
    size_t best = 0;
    for (size_t i = 1; i < epochs.size(); ++i) {
      const auto& e = epochs[i];
      const auto& b = epochs[best];
      const bool better = std::string(metric) == "loss"
                              ? e["validation_loss"] < b["validation_loss"]
                              : e["validation_accuracy"] > b["validation_accuracy"] ||
                                    (e["validation_accuracy"] == b["validation_accuracy"] &&
                                     e["validation_loss"] < b["validation_loss"]);
      if (better) best = i;
    }
    EXPECT_EQ(result.best_epoch, int64_t(best + 1)) << metric;
  }
  auto regression = testing::toy_config(fresh_dir());
  regression.validation_fraction = 0.2;
  regression.keep = "best";
  regression.best_metric = "accuracy";
  EXPECT_THROW(run_training(regression, quiet()), UsageError);
  regression.best_metric = "newest";
  EXPECT_THROW(regression.validate(), UsageError);
}

}  // namespace
}  // namespace octrain::train
