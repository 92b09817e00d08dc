// `octrain report` and the report at the end of `octrain compare`, through the real executable.
#include <gtest/gtest.h>

#include <fstream>

#include "cli_runner.h"
#include "octrain/plot/gnuplot_figure.h"
#include "report_fixtures.h"
#include "run_helpers.h"
#include "svg_series.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

using testing::run_cli;

// A compare config: `head` (dataset, model, sizes), then an sgd and an adam run.
std::string sgd_and_adam_grid(const std::string& head) {
  return head + "[[run]]\nmethod = \"sgd\"\nlr = 0.05\n[[run]]\nmethod = \"adam\"\nlr = 0.01\n";
}

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
  std::ofstream(config) << sgd_and_adam_grid(
                               "dataset = \"toy-sin\"\nmodel = \"mlp:1-8-1:tanh\"\nepochs = 100\n"
                               "batch_size = 25\nthreads = 1\nseeds = [0, 1, 2]\n")
                        << "[profile.quick]\nepochs = 3\nseeds = [0, 1]\n";
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

// A quick grid whose runs are evaluated once (one test point per run): every figure of its
// report draws every series.
TEST(ReportCli, EveryFigureOfAQuickReportHasData) {
  if (plot::find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const auto dir = testing::fresh_dir();
  {
    std::ofstream table(dir / "table.csv");
    for (int r = 0; r < 60; ++r)
      table << (r % 3) + 0.1 * (r % 7) << "," << r % 5 << "," << r % 3 << "\n";
  }
  const auto config = (dir / "grid.toml").string();
  std::ofstream(config) << sgd_and_adam_grid("dataset = \"csv:" + (dir / "table.csv").string() +
                                             "\"\nmodel = \"mlp:2-8-3:tanh\"\nepochs = 1\n"
                                             "batch_size = 8\nthreads = 1\nseeds = [0, 1]\n");
  const std::string out = (dir / "out").string();
  const auto ran = run_cli("compare -q --config '" + config + "' -o '" + out + "'");
  ASSERT_EQ(ran.code, 0) << ran.output;
  int figures = 0;
  for (const auto& entry : fs::directory_iterator(dir / "out" / "report" / "figures")) {
    if (entry.path().extension() != ".svg") continue;
    ++figures;
    const auto series = testing::svg_data_series(testing::file_text(entry.path()));
    EXPECT_FALSE(series.empty()) << entry.path();
    for (const auto& s : series)
      EXPECT_TRUE(s.drawn) << entry.path() << ": " << s.id << " draws nothing";
  }
  EXPECT_EQ(figures, 3);  // training loss, test loss, test accuracy
}

}  // namespace
}  // namespace octrain::train
