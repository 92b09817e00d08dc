#include "octrain/train/compare.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "octrain/util/error.h"
#include "run_helpers.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

TEST(Compare, GridWritesRunsAndSummary) {
  const auto dir = testing::fresh_dir();
  CompareConfig config;
  config.base = testing::toy_config(dir);
  config.base.epochs = 2;
  config.add_method_spec("sgd:lr=0.05");
  config.add_method_spec("adam:lr=0.01");
  config.seeds = {0, 1};
  std::FILE* sink = std::tmpfile();
  const auto rows = run_compare(config, false, sink);
  std::fclose(sink);
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    EXPECT_EQ(r.runs, 2);
    EXPECT_EQ(r.diverged, 0);
    EXPECT_TRUE(std::isfinite(r.train_loss_mean));
    EXPECT_GT(r.train_loss_std, 0.0);  // different seeds, different runs
  }
  EXPECT_TRUE(fs::exists(dir / "sgd_lr_0.05" / "seed-1" / "metrics.jsonl"));
  std::stringstream md;
  md << std::ifstream(dir / "summary.md").rdbuf();
  EXPECT_NE(md.str().find("| adam:lr=0.01 |"), std::string::npos) << md.str();
  EXPECT_TRUE(fs::exists(dir / "summary.csv"));
}

TEST(Compare, DivergedRunsAreCountedNotFatal) {
  const auto dir = testing::fresh_dir();
  CompareConfig config;
  config.base = testing::toy_config(dir);
  config.base.epochs = 1;
  config.add_method_spec("sgd:lr=1e30");
  const auto rows = run_compare(config, true);
  EXPECT_EQ(rows[0].diverged, 1);
}

TEST(Compare, BadEntriesFailBeforeAnyRun) {
  const auto dir = testing::fresh_dir();
  CompareConfig config;
  config.base = testing::toy_config(dir / "grid");
  config.add_method_spec("adam");
  config.add_method_spec("sgd:lr=-1");
  EXPECT_THROW(run_compare(config, true), UsageError);
  EXPECT_FALSE(fs::exists(dir / "grid" / "adam"));
  CompareConfig twice;
  twice.base = config.base;
  twice.add_method_spec("adam");
  twice.add_method_spec("adam");
  EXPECT_THROW(run_compare(twice, true), UsageError);
}

TEST(Compare, TomlGrid) {
  const auto dir = testing::fresh_dir();
  const auto path = (dir / "grid.toml").string();
  std::ofstream(path) << "dataset = \"toy-sin\"\nmodel = \"mlp:1-4-1\"\nseeds = [3, 4]\n"
                         "[[run]]\nmethod = \"sgd\"\nlr = 0.1\nmomentum = 0.9\n"
                         "[[run]]\nlabel = \"Adam\"\nmethod = \"adam\"\n";
  CompareConfig config;
  config.merge_toml_file(path);
  ASSERT_EQ(config.entries.size(), 2u);
  EXPECT_EQ(config.entries[0].options.at("momentum"), "0.9");
  EXPECT_EQ(config.entries[1].label, "Adam");
  EXPECT_EQ(config.seeds, (std::vector<uint64_t>{3, 4}));
  std::ofstream(path) << "[[run]]\nlr = 0.1\n";
  CompareConfig bad;
  EXPECT_THROW(bad.merge_toml_file(path), UsageError);
}

}  // namespace
}  // namespace octrain::train
