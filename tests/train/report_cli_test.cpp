// `octrain report` and the report at the end of `octrain compare`, through the real executable.
#include <gtest/gtest.h>

#include <fstream>

#include "cli_runner.h"
#include "octrain/plot/gnuplot_figure.h"
#include "report_fixtures.h"
#include "run_helpers.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

using testing::run_cli;

TEST(ReportCli, ReportsAGridAndFailsClearly) {
  if (plot::find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const auto dir = testing::fresh_dir();
  testing::write_synthetic_grid(dir / "grid");
  const auto ok = run_cli("report '" + (dir / "grid").string() + "' -o '" + (dir / "out").string() +
                          "' --title 'Synthetic'");
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_TRUE(fs::exists(dir / "out" / "index.html"));
  EXPECT_TRUE(fs::exists(dir / "out" / "report.md"));
  EXPECT_TRUE(fs::exists(dir / "out" / "figures" / "grid-test_accuracy.svg"));

  EXPECT_FAILS_WITH(run_cli("report '" + (dir / "missing").string() + "'"), 2, "missing");
  testing::write_synthetic_run(dir / "bad", "sgd", 2, 0.5, 0.5);
  std::ofstream(dir / "bad" / "metrics.jsonl", std::ios::app) << "garbage\n";
  EXPECT_FAILS_WITH(run_cli("report '" + (dir / "bad").string() + "'"), 3,
                    "metrics.jsonl:4: not a metrics record");
  EXPECT_FAILS_WITH(run_cli("report a b"), 2, "need --out");
}

TEST(ReportCli, CompareProfileRunsAndReports) {
  if (plot::find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const auto dir = testing::fresh_dir();
  const auto config = (dir / "grid.toml").string();
  std::ofstream(config) << "dataset = \"toy-sin\"\nmodel = \"mlp:1-8-1:tanh\"\nepochs = 100\n"
                           "batch_size = 25\nthreads = 1\nseeds = [0, 1, 2]\n"
                           "[[run]]\nmethod = \"sgd\"\nlr = 0.05\n"
                           "[[run]]\nmethod = \"adam\"\nlr = 0.01\n"
                           "[profile.quick]\nepochs = 3\nseeds = [0, 1]\n";
  const std::string out = (dir / "out").string();
  const auto ran = run_cli("compare -q --config '" + config + "' --profile quick -o '" + out + "'");
  ASSERT_EQ(ran.code, 0) << ran.output;
  EXPECT_TRUE(fs::exists(dir / "out" / "report" / "index.html"));
  EXPECT_TRUE(fs::exists(dir / "out" / "adam_lr_0.01" / "seed-1"));
  EXPECT_FALSE(fs::exists(dir / "out" / "adam_lr_0.01" / "seed-2"));
  std::ifstream result(dir / "out" / "adam_lr_0.01" / "seed-1" / "result.json");
  std::string text((std::istreambuf_iterator<char>(result)), {});
  EXPECT_NE(text.find("\"epochs\": 3"), std::string::npos) << text;

  EXPECT_FAILS_WITH(run_cli("compare -q --config '" + config + "' --profile huge -o '" + out + "'"),
                    2, "no profile 'huge' (profiles here: quick)");
  EXPECT_FAILS_WITH(run_cli("compare -q --profile quick -d toy-sin --methods sgd -o '" + out + "'"),
                    2, "--profile quick needs --config");
  const auto referenced = (dir / "referenced.toml").string();
  std::ofstream(referenced) << "reference = \"no-such-table:row\"\ndataset = \"toy-sin\"\n"
                               "model = \"mlp:1-8-1\"\n[[run]]\nmethod = \"sgd\"\n";
  EXPECT_FAILS_WITH(run_cli("compare -q --config '" + referenced + "' -o '" + out + "'"), 2,
                    "no table 'no-such-table'");
}

}  // namespace
}  // namespace octrain::train
