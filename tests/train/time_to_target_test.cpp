#include "octrain/train/time_to_target.h"

#include <gtest/gtest.h>

#include <fstream>

#include "octrain/train/compare.h"
#include "octrain/util/error.h"
#include "run_helpers.h"

namespace octrain::train {
namespace {

nlohmann::json evaluation(const char* kind, int64_t epoch, int64_t step, double seconds,
                          double accuracy, double loss) {
  return {{"kind", kind},
          {"epoch", epoch},
          {"step", step},
          {"epoch_time_s", seconds},
          {"validation_accuracy", accuracy},
          {"validation_loss", loss}};
}

// Epoch 0 (no training time), then epochs of 2 s and 3 s of steps; step records between them do
// not count.
const std::vector<nlohmann::json> kRecords = {
    {{"kind", "evaluation"},
     {"epoch", 0},
     {"step", 0},
     {"validation_accuracy", 0.3},
     {"validation_loss", 2.0}},
    {{"kind", "step"}, {"epoch", 1}, {"step", 10}, {"loss", 0.1}},
    evaluation("epoch", 1, 10, 2.0, 0.6, 1.0),
    evaluation("epoch", 2, 20, 3.0, 0.95, 0.4)};

TEST(TimeToTarget, FirstEvaluationThatReachesItAndTheTrainingTimeBefore) {
  const auto accuracy = time_to_target(kRecords, Target::parse("accuracy=0.9"));
  EXPECT_TRUE(accuracy.reached);
  EXPECT_DOUBLE_EQ(accuracy.seconds, 5.0);
  EXPECT_DOUBLE_EQ(accuracy.steps, 20);
  EXPECT_EQ(accuracy.epoch, 2);
  const auto loss = time_to_target(kRecords, Target::parse("loss=1.0"));
  EXPECT_DOUBLE_EQ(loss.seconds, 2.0);  // ≤: reached at equality
  EXPECT_EQ(loss.epoch, 1);
  EXPECT_EQ(time_to_target(kRecords, Target::parse("loss=2")).epoch, 0);
  const auto miss = time_to_target(kRecords, Target::parse("accuracy=0.96"));
  EXPECT_FALSE(miss.reached);
  EXPECT_EQ(miss.seconds, kMiss);
  EXPECT_EQ(miss.steps, kMiss);
}

// AlgoPerf's rule: misses count as infinite, so the median is a miss once half or more miss.
TEST(TimeToTarget, MedianCountsMissesAsInfinite) {
  auto hit = [](double s) { return TargetHit{true, s, 10 * s, 1}; };
  const TargetHit miss;
  auto summary = summarise_hits({hit(1), hit(3), miss});
  EXPECT_EQ(summary.runs, 3);
  EXPECT_EQ(summary.reached, 2);
  EXPECT_DOUBLE_EQ(summary.median_seconds, 3);
  EXPECT_DOUBLE_EQ(summary.median_steps, 30);
  EXPECT_DOUBLE_EQ(summarise_hits({hit(1), hit(2), hit(4), miss}).median_seconds, 3);
  EXPECT_EQ(summarise_hits({hit(1), miss, miss}).median_seconds, kMiss);
  EXPECT_EQ(summarise_hits({hit(1), hit(2), miss, miss}).median_seconds, kMiss);
  EXPECT_TRUE(summarise_hits({hit(1), miss, miss}).to_json()["median_seconds"].is_null());
  EXPECT_EQ(summarise_hits({}).median_seconds, kMiss);
}

TEST(TimeToTarget, ParseRefusesWhatIsNoTarget) {
  const auto t = Target::parse("loss=0.35");
  EXPECT_EQ(t.metric, "loss");
  EXPECT_DOUBLE_EQ(t.value, 0.35);
  EXPECT_EQ(t.to_string(), "loss=0.35");
  EXPECT_EQ(Target::parse("accuracy=0.9").describe(), "validation accuracy ≥ 0.9");
  for (const char* bad : {"accuracy", "accuracy=", "acc=0.9", "accuracy=1.5", "accuracy=0",
                          "loss=x", "loss=0.3x", "loss=nan", ""})
    EXPECT_THROW(Target::parse(bad), UsageError) << bad;
}

// compare reports, per method, the median time and steps to the target over its seeds, in its
// table, summary.csv and summary.json; an unreachable target is a miss; a target needs a
// validation split.
TEST(Compare, ReportsTimeAndStepsToTarget) {
  const auto dir = testing::fresh_dir();
  testing::write_class_table(dir / "table.csv", true);
  CompareConfig config;
  config.base.dataset = "csv:" + (dir / "table.csv").string();
  config.base.model = "mlp:4-8-3:tanh";
  config.base.epochs = 2;
  config.base.batch_size = 16;
  config.base.threads = 1;
  config.base.validation_fraction = 0.2;
  config.base.out = (dir / "grid").string();
  config.seeds = {0, 1};
  config.add_method_spec("sgd:lr=0.05");
  config.add_method_spec("adam:lr=0.01");
  config.target = Target::parse("loss=100");  // reached at the first evaluation
  const auto rows = run_compare(config, true);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_EQ(r.target.runs, 2);
    EXPECT_EQ(r.target.reached, 2);
    EXPECT_GT(r.target.median_seconds, 0);
    EXPECT_LT(r.target.median_seconds, 60);
    const auto records = testing::read_records(dir / "grid" / "sgd_lr_0.05" / "seed-0");
    EXPECT_DOUBLE_EQ(r.target.median_steps, records.back()["step"].get<double>() / 2);
  }
  const auto md = testing::file_text(dir / "grid" / "summary.md");
  EXPECT_NE(md.find("time to target (s) | steps to target | reached"), std::string::npos) << md;
  EXPECT_NE(md.find("validation loss ≤ 100"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2/2 |"), std::string::npos) << md;
  const auto json = nlohmann::json::parse(testing::file_text(dir / "grid" / "summary.json"));
  EXPECT_EQ(json["target"], "loss=100");
  EXPECT_EQ(json["methods"][1]["time_to_target"]["reached"], 2);
  EXPECT_TRUE(json["methods"][1]["time_to_target"]["median_steps"].is_number());
  EXPECT_NE(testing::file_text(dir / "grid" / "summary.csv").find("target_steps_median"),
            std::string::npos);

  config.base.out = (dir / "unreachable").string();
  config.target = Target::parse("loss=1e-9");
  const auto missed = run_compare(config, true);
  EXPECT_EQ(missed[0].target.reached, 0);
  EXPECT_EQ(missed[0].target.median_seconds, kMiss);
  EXPECT_NE(summary_markdown(missed, config).find("| miss | miss | 0/2 |"), std::string::npos);

  config.base.out = (dir / "unvalidated").string();
  config.base.validation_fraction = 0;
  EXPECT_THROW(run_compare(config, true), UsageError);
}

// A compare config names its target as `target = "METRIC=V"`; anything else is refused.
TEST(Compare, ConfigFileSetsTheTarget) {
  const auto path = testing::fresh_dir() / "grid.toml";
  std::ofstream(path) << "target = \"accuracy=0.9\"\n[[run]]\nmethod = \"adam\"\n";
  CompareConfig config;
  config.merge_toml_file(path.string());
  EXPECT_EQ(config.target.to_string(), "accuracy=0.9");
  for (const char* bad : {"target = 0.9\n", "target = \"accuracy>0.9\"\n"}) {
    std::ofstream(path) << bad;
    CompareConfig refused;
    EXPECT_THROW(refused.merge_toml_file(path.string()), UsageError) << bad;
  }
}

}  // namespace
}  // namespace octrain::train
