#include "octrain/train/tune.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "cli_runner.h"
#include "octrain/util/error.h"
#include "octrain/util/file_name.h"
#include "run_helpers.h"

namespace octrain::train {
namespace {

TEST(Tune, LrGridReadsDeepObsGridAndListsAndRefusesBadOnes) {
  const auto grid = parse_lr_grid("log:1e-5:1e2:36");
  ASSERT_EQ(grid.size(), 36u);
  EXPECT_DOUBLE_EQ(grid.front(), 1e-5);
  EXPECT_DOUBLE_EQ(grid.back(), 100);
  for (size_t k = 0; k < grid.size(); ++k)
    EXPECT_NEAR(std::log10(grid[k]), -5 + 7.0 * double(k) / 35, 1e-5) << k;
  EXPECT_EQ(parse_lr_grid("0.1,0.01,1"), (std::vector<double>{0.1, 0.01, 1}));
  for (const char* bad : {"log:1e-5:1e2", "log:0:1:3", "log:1:0.1:3", "log:1e-5:1e2:1",
                          "log:1e-5:1e2:x", "log:a:1:3", "0.1,x", "0.1,-1", "0.1,0.1", ""})
    EXPECT_THROW(parse_lr_grid(bad), UsageError) << bad;
}

// A 3-class CSV problem with a validation split: two epochs of sgd per run.
TuneConfig small_tune(const testing::fs::path& dir) {
  testing::write_class_table(dir / "table.csv", true);
  TuneConfig t;
  auto& base = t.problem.base;
  base.dataset = "csv:" + (dir / "table.csv").string();
  base.model = "mlp:4-8-3:tanh";
  base.epochs = 2;
  base.batch_size = 16;
  base.threads = 1;
  base.validation_fraction = 0.2;
  base.out = (dir / "tune").string();
  t.method = {"momentum", "sgd", {{"momentum", "0.9"}}, {}};
  t.learning_rates = {1e-4, 0.05, 0.5};
  t.seeds = 2;
  t.problem.target = Target::parse("loss=100");
  return t;
}

// The grid runs on seed 0 only; the value with the best final validation accuracy (not test) is
// rerun on every seed with the entry's fixed options; tune.md and tune.json say so.
TEST(Tune, SelectsOnValidationAndRerunsTheBestOnEverySeed) {
  const auto dir = testing::fresh_dir();
  const auto config = small_tune(dir);
  const auto result = run_tune(config, CompareOptions{true});
  ASSERT_EQ(result.grid.size(), 3u);
  size_t best = 0;
  for (size_t i = 0; i < result.grid.size(); ++i) {
    EXPECT_EQ(result.grid[i].runs, 1);
    if (result.grid[i].validation_accuracy_mean > result.grid[best].validation_accuracy_mean)
      best = i;
  }
  EXPECT_EQ(result.best, best);
  EXPECT_EQ(result.best_lr, config.learning_rates[best]);
  EXPECT_EQ(result.selected_by, "validation accuracy");
  EXPECT_EQ(result.rerun.runs, 2);
  EXPECT_EQ(result.rerun.target.runs, 2);
  EXPECT_EQ(result.rerun.label, fmt::format("momentum lr={}", result.best_lr));
  const auto tune_dir = dir / "tune";
  EXPECT_TRUE(testing::fs::exists(tune_dir / "grid" / "momentum_lr_0.0001" / "seed-0"));
  EXPECT_FALSE(testing::fs::exists(tune_dir / "grid" / "momentum_lr_0.0001" / "seed-1"));
  const auto rerun_dir = tune_dir / "best" / safe_file_name(result.rerun.label);
  for (const char* seed : {"seed-0", "seed-1"}) {
    RunConfig recorded;
    recorded.merge_toml_file((rerun_dir / seed / "config.toml").string());
    EXPECT_EQ(recorded.method_options.at("momentum"), "0.9");
    EXPECT_EQ(std::stod(recorded.method_options.at("lr")), result.best_lr);
  }
  const auto json = nlohmann::json::parse(testing::file_text(tune_dir / "tune.json"));
  EXPECT_EQ(json["selected_by"], "validation accuracy");
  EXPECT_EQ(json["best_lr"].get<double>(), result.best_lr);
  EXPECT_EQ(json["grid"]["methods"].size(), 3u);
  EXPECT_EQ(json["best"]["methods"][0]["runs"], 2);
  const auto md = testing::file_text(tune_dir / "tune.md");
  EXPECT_NE(md.find("**selected**"), std::string::npos) << md;
  EXPECT_NE(md.find("over 2 seeds: test accuracy"), std::string::npos) << md;
  EXPECT_NE(md.find("time to validation loss ≤ 100"), std::string::npos) << md;

  // --resume keeps every run and selects the same; without it a used OUT is refused.
  const auto resumed = run_tune(config, CompareOptions{true, stdout, true});
  EXPECT_EQ(resumed.best, result.best);
  EXPECT_EQ(resumed.rerun.accuracy_mean, result.rerun.accuracy_mean);
  EXPECT_THROW(run_tune(config, CompareOptions{true}), UsageError);
}

TEST(Tune, RefusesWhatItCannotTune) {
  const auto dir = testing::fresh_dir();
  auto no_validation = small_tune(dir);
  no_validation.problem.base.validation_fraction = 0;
  EXPECT_THROW(run_tune(no_validation, CompareOptions{true}), UsageError);
  auto no_option = small_tune(dir);
  no_option.lr_option = "step_size";
  EXPECT_THROW(run_tune(no_option, CompareOptions{true}), UsageError);
  auto no_seeds = small_tune(dir);
  no_seeds.seeds = 0;
  EXPECT_THROW(run_tune(no_seeds, CompareOptions{true}), UsageError);
  EXPECT_FALSE(testing::fs::exists(dir / "tune"));  // refused before any run
}

// The command end to end: --method names a [[run]] of the config (its options kept), the output
// folder defaults to the config's out + /tune-<method>, and the result is printed.
TEST(TuneCli, TunesAConfigsRunIntoItsDefaultFolder) {
  const auto dir = testing::fresh_dir();
  testing::write_class_table(dir / "table.csv", true);
  const auto config = dir / "problem.toml";
  std::ofstream(config) << "dataset = \"csv:" << (dir / "table.csv").string() << "\"\n"
                        << "model = \"mlp:4-8-3:tanh\"\nepochs = 2\nbatch_size = 16\n"
                        << "validation_fraction = 0.2\nthreads = 1\nout = \""
                        << (dir / "runs").string() << "\"\n"
                        << "[[run]]\nmethod = \"sgd\"\nmomentum = 0.9\nlabel = \"momentum\"\n";
  const auto o = testing::run_cli("tune -q --config '" + config.string() +
                                  "' --method momentum --lr-grid 0.01,0.1 --seeds 2");
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("over 2 seeds: test accuracy"), std::string::npos) << o.output;
  const auto out = dir / "runs" / "tune-momentum";
  EXPECT_TRUE(testing::fs::exists(out / "tune.md"));
  const auto summary = nlohmann::json::parse(testing::file_text(out / "tune.json"));
  const std::string best = summary["best"]["methods"][0]["label"];
  RunConfig recorded;
  recorded.merge_toml_file(
      (out / "best" / safe_file_name(best) / "seed-1" / "config.toml").string());
  EXPECT_EQ(recorded.method, "sgd");
  EXPECT_EQ(recorded.method_options.at("momentum"), "0.9");
}

// The command: bad grids and unknown problems are one-line usage errors (exit code 2); a
// DeepOBS problem name finds its config.
TEST(TuneCli, BadInputsAreOneLineUsageErrors) {
  const auto dir = testing::fresh_dir();
  const std::string base = "tune --config " OCTRAIN_SOURCE_DIR
                           "/configs/deepobs-fmnist-mlp.toml --profile quick --method adam -o '" +
                           (dir / "out").string() + "'";
  EXPECT_FAILS_WITH(testing::run_cli(base + " --lr-grid log:1:0.1:3"), 2, "--lr-grid");
  EXPECT_FAILS_WITH(testing::run_cli(base + " --lr-grid 0.1,0.1"), 2, "appears twice");
  EXPECT_FAILS_WITH(testing::run_cli(base + " --lr-grid 0.1 --target acc=0.9"), 2, "--target");
  EXPECT_FAILS_WITH(testing::run_cli(base + " --lr-grid 0.1 --lr-option beta9"), 2, "beta9");
  EXPECT_FAILS_WITH(
      testing::run_cli("tune --problem nosuch_problem --method adam --lr-grid 0.1",
                       "cd '" OCTRAIN_SOURCE_DIR "' &&"),  // --problem looks in ./configs
      2, "fmnist_2c2d");
  EXPECT_FALSE(testing::fs::exists(dir / "out"));
}

}  // namespace
}  // namespace octrain::train
