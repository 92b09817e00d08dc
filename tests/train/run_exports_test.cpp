#include "octrain/train/run_exports.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "octrain/train/compare.h"
#include "octrain/util/error.h"
#include "run_helpers.h"

namespace octrain::train {
namespace {

// Two epochs of a 3-class CSV problem with a validation split, written in both formats.
RunConfig exported_run(const testing::fs::path& dir) {
  testing::write_class_table(dir / "table.csv", true);
  RunConfig c;
  c.dataset = "csv:" + (dir / "table.csv").string();
  c.model = "mlp:4-8-3:tanh";
  c.method = "sgd";
  c.method_options = {{"lr", "0.05"}, {"momentum", "0.9"}};
  c.epochs = 2;
  c.batch_size = 16;
  c.threads = 1;
  c.validation_fraction = 0.2;
  c.problem = "csv_toy";
  c.export_format = "deepobs,algoperf";
  c.out = (dir / "run").string();
  return c;
}

bool all_numbers(const nlohmann::json& list) {
  for (const auto& v : list)
    if (!v.is_number()) return false;
  return list.is_array();
}

std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> cells;
    std::istringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

// DeepOBS's run-file layout: every key, its type, one entry per evaluation from epoch 0 on, and
// the last entries equal to the run's own final figures.
TEST(RunExports, DeepObsRunFileHasEveryKeyOfItsLayout) {
  const auto dir = testing::fresh_dir();
  const auto config = exported_run(dir);
  const auto result = run_training(config, testing::quiet());
  const auto file = nlohmann::json::parse(testing::file_text(dir / "run" / "deepobs_run.json"));
  std::set<std::string> keys;
  for (const auto& [key, value] : file.items()) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{
                      "testproblem", "batch_size", "num_epochs", "random_seed", "weight_decay",
                      "optimizer_name", "optimizer_hyperparams", "training_params", "train_losses",
                      "valid_losses", "test_losses", "minibatch_train_losses", "train_accuracies",
                      "valid_accuracies", "test_accuracies"}));
  EXPECT_EQ(file["testproblem"], "csv_toy");
  EXPECT_TRUE(file["batch_size"].is_number_integer());
  EXPECT_EQ(file["batch_size"], 16);
  EXPECT_TRUE(file["num_epochs"].is_number_integer());
  EXPECT_EQ(file["num_epochs"], 2);
  EXPECT_TRUE(file["random_seed"].is_number_integer());
  EXPECT_EQ(file["random_seed"], 0);
  EXPECT_TRUE(file["weight_decay"].is_number());
  EXPECT_EQ(file["optimizer_name"], "sgd");
  ASSERT_TRUE(file["optimizer_hyperparams"].is_object());
  EXPECT_TRUE(file["optimizer_hyperparams"]["lr"].is_number_float());
  EXPECT_DOUBLE_EQ(file["optimizer_hyperparams"]["lr"].get<double>(), 0.05);
  EXPECT_DOUBLE_EQ(file["optimizer_hyperparams"]["momentum"].get<double>(), 0.9);
  EXPECT_TRUE(file["optimizer_hyperparams"]["nesterov"].is_boolean());
  ASSERT_TRUE(file["training_params"].is_object());
  EXPECT_EQ(file["training_params"]["train_log_interval"], 1);
  EXPECT_TRUE(file["training_params"]["lr_schedule"].is_string());
  for (const char* series : {"train_losses", "valid_losses", "test_losses", "train_accuracies",
                             "valid_accuracies", "test_accuracies"}) {
    SCOPED_TRACE(series);
    EXPECT_TRUE(all_numbers(file[series]));
    EXPECT_EQ(file[series].size(), 3u);  // epochs 0, 1, 2
  }
  for (const char* series : {"train_accuracies", "valid_accuracies", "test_accuracies"})
    for (const auto& v : file[series]) EXPECT_TRUE(v >= 0.0 && v <= 1.0) << series;
  EXPECT_TRUE(all_numbers(file["minibatch_train_losses"]));
  EXPECT_EQ(int64_t(file["minibatch_train_losses"].size()), result.steps);
  EXPECT_DOUBLE_EQ(file["test_losses"].back().get<double>(), result.test.loss);
  EXPECT_DOUBLE_EQ(file["test_accuracies"].back().get<double>(), result.test.accuracy);
  EXPECT_DOUBLE_EQ(file["valid_losses"].back().get<double>(), result.validation.loss);
  // Epoch 0 is before any step: the weights have not moved since it was evaluated.
  EXPECT_NE(file["test_losses"][0], file["test_losses"][1]);
}

// AlgoPerf's eval_measurements.csv: its header, one row per evaluation, the steps at each, and
// clocks that only grow.
TEST(RunExports, AlgoPerfMeasurementsHaveItsColumns) {
  const auto dir = testing::fresh_dir();
  const auto config = exported_run(dir);
  const auto result = run_training(config, testing::quiet());
  const auto rows = csv_rows(testing::file_text(dir / "run" / "eval_measurements.csv"));
  ASSERT_EQ(rows.size(), 4u);  // header + epochs 0, 1, 2
  const std::vector<std::string> header = {"accumulated_eval_time",
                                           "accumulated_logging_time",
                                           "accumulated_submission_time",
                                           "global_step",
                                           "preemption_count",
                                           "score",
                                           "test/accuracy",
                                           "test/loss",
                                           "test/num_examples",
                                           "total_duration",
                                           "train/accuracy",
                                           "train/loss",
                                           "validation/accuracy",
                                           "validation/loss",
                                           "validation/num_examples"};
  EXPECT_EQ(rows[0], header);
  auto column = [&](size_t row, const std::string& name) {
    const auto at = size_t(std::find(header.begin(), header.end(), name) - header.begin());
    return rows[row].at(at);
  };
  const int64_t steps_per_epoch = result.steps / 2;
  for (size_t r = 1; r < rows.size(); ++r) {
    SCOPED_TRACE(r);
    ASSERT_EQ(rows[r].size(), header.size());
    EXPECT_EQ(std::stoll(column(r, "global_step")), int64_t(r - 1) * steps_per_epoch);
    EXPECT_EQ(column(r, "preemption_count"), "0");
    EXPECT_EQ(column(r, "score"), column(r, "accumulated_submission_time"));
    EXPECT_EQ(std::stoll(column(r, "test/num_examples")), result.test.samples);
    EXPECT_EQ(std::stoll(column(r, "validation/num_examples")), result.validation.samples);
    for (const char* clock : {"accumulated_eval_time", "accumulated_submission_time",
                              "accumulated_logging_time", "total_duration"})
      EXPECT_GE(std::stod(column(r, clock)), r == 1 ? 0.0 : std::stod(column(r - 1, clock)))
          << clock;
    EXPECT_GE(std::stod(column(r, "total_duration")),
              std::stod(column(r, "accumulated_submission_time")) +
                  std::stod(column(r, "accumulated_eval_time")) - 1e-9);
  }
  EXPECT_EQ(column(1, "accumulated_submission_time"), "0");
  EXPECT_GT(std::stod(column(3, "accumulated_submission_time")), 0);
  EXPECT_NEAR(std::stod(column(3, "test/loss")), result.test.loss, 1e-8);  // 9 digits written
}

// A resumed run continues both files: the epochs it adds follow the ones before, and the rows
// after the resume count it as a preemption.
TEST(RunExports, ResumedRunContinuesTheFiles) {
  const auto dir = testing::fresh_dir();
  auto config = exported_run(dir);
  config.epochs = 1;
  run_training(config, testing::quiet());
  config.epochs = 2;
  auto resume = testing::quiet();
  resume.resume = true;
  run_training(config, resume);
  const auto file = nlohmann::json::parse(testing::file_text(dir / "run" / "deepobs_run.json"));
  EXPECT_EQ(file["num_epochs"], 2);
  EXPECT_EQ(file["test_losses"].size(), 3u);
  const auto rows = csv_rows(testing::file_text(dir / "run" / "eval_measurements.csv"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[2][4], "0");  // preemption_count: epoch 1 ran before the resume
  EXPECT_EQ(rows[3][4], "1");
}

// A compare grid also files each run's DeepOBS file where DeepOBS's analyser looks:
// OUT/deepobs/<testproblem>/<optimizer>/<setting>/random_seed__<seed>.json.
TEST(RunExports, CompareFilesRunsInDeepObsResultsTree) {
  const auto dir = testing::fresh_dir();
  CompareConfig config;
  config.base = exported_run(dir);
  config.base.out = (dir / "grid").string();
  config.seeds = {0, 1};
  config.add_method_spec("adam:lr=0.01");
  run_compare(config, true);
  for (const char* seed : {"0", "1"}) {
    const auto filed = dir / "grid" / "deepobs" / "csv_toy" / "adam" / "adam_lr_0.01" /
                       (std::string("random_seed__") + seed + ".json");
    ASSERT_TRUE(testing::fs::exists(filed)) << filed;
    EXPECT_EQ(testing::file_text(filed),
              testing::file_text(dir / "grid" / "adam_lr_0.01" / ("seed-" + std::string(seed)) /
                                 "deepobs_run.json"));
  }
}

// Regression without a validation split: no accuracies and no valid_* in DeepOBS's file, no
// accuracy or validation columns in AlgoPerf's; bad settings are refused by name.
TEST(RunExports, RegressionWithoutValidationLeavesThoseOut) {
  const auto dir = testing::fresh_dir();
  auto config = testing::toy_config(dir);
  config.epochs = 1;
  config.export_format = "algoperf,deepobs";
  run_training(config, testing::quiet());
  const auto file = nlohmann::json::parse(testing::file_text(dir / "deepobs_run.json"));
  for (const char* absent :
       {"valid_losses", "train_accuracies", "valid_accuracies", "test_accuracies"})
    EXPECT_FALSE(file.contains(absent)) << absent;
  EXPECT_EQ(file["testproblem"], "toy-sin");
  EXPECT_TRUE(all_numbers(file["train_losses"]));
  EXPECT_EQ(csv_rows(testing::file_text(dir / "eval_measurements.csv"))[0],
            (std::vector<std::string>{"accumulated_eval_time", "accumulated_logging_time",
                                      "accumulated_submission_time", "global_step",
                                      "preemption_count", "score", "test/loss", "test/num_examples",
                                      "total_duration", "train/loss"}));
  RunConfig bad;
  EXPECT_THROW(bad.set("export_format", "deepobs,tensorboard"), UsageError);
  bad.set("export_format", "deepobs");
  bad.eval_every = 2;
  EXPECT_THROW(bad.validate(), UsageError);
}

}  // namespace
}  // namespace octrain::train
