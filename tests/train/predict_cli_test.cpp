// export --format torchscript|state-dict, predict and eval on a run trained on a CSV file.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "cli_runner.h"
#include "octrain/plot/gnuplot_figure.h"
#include "run_helpers.h"
#include "svg_series.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

using testing::run_cli;

// 90 rows of 4 features and a class 0..2 that the features separate.
testing::CsvRunPaths train_csv_run() {
  const auto t = testing::csv_run_paths();
  const auto train = run_cli("train -q -d 'csv:" + t.data.string() +
                             "' -m mlp:4-8-3:tanh -e 3 -b 10 -o '" + t.run.string() + "'");
  EXPECT_EQ(train.code, 0) << train.output;
  return t;
}

TEST(PredictCli, RunAndTorchscriptExportPredictTheSame) {
  const auto t = train_csv_run();
  const auto model = (t.dir / "model.pt").string();
  const auto exported =
      run_cli("export '" + t.run.string() + "' --format torchscript -o '" + model + "'");
  ASSERT_EQ(exported.code, 0) << exported.output;
  EXPECT_NE(exported.output.find("input standardisation included"), std::string::npos);
  const auto features = t.dir / "features.csv";
  testing::write_class_table(features, false, 12);

  const auto from_run =
      run_cli("predict '" + t.run.string() + "' --input 'csv:" + features.string() + "' -o '" +
              (t.dir / "a.csv").string() + "'");
  ASSERT_EQ(from_run.code, 0) << from_run.output;
  const auto from_export = run_cli("predict '" + model + "' -i 'csv:" + features.string() +
                                   "' -o '" + (t.dir / "b.csv").string() + "'");
  ASSERT_EQ(from_export.code, 0) << from_export.output;
  const auto csv = testing::file_text(t.dir / "a.csv");
  EXPECT_EQ(csv, testing::file_text(t.dir / "b.csv"));
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "index,class,probability_0,probability_1,probability_2");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 13);

  // With labels: a label column and the accuracy on stderr; to standard output without -o.
  const auto labelled = run_cli("predict '" + model + "' -i 'csv:" + t.data.string() + "'");
  ASSERT_EQ(labelled.code, 0) << labelled.output;
  EXPECT_NE(labelled.output.find("index,label,class,probability_0"), std::string::npos);
  EXPECT_NE(labelled.output.find("accuracy "), std::string::npos) << labelled.output;

  // Shape mismatch and files that are not models: one line, exit 3.
  std::ofstream(t.dir / "narrow.csv") << "1,2\n3,4\n";
  EXPECT_FAILS_WITH(
      run_cli("predict '" + model + "' -i 'csv:" + (t.dir / "narrow.csv").string() + "'"), 3,
      "2 columns, the model takes [4]");
  std::ofstream(t.dir / "junk.pt") << "not a model";
  EXPECT_FAILS_WITH(
      run_cli("predict '" + (t.dir / "junk.pt").string() + "' -i 'csv:" + features.string() + "'"),
      3, "junk.pt");
  EXPECT_FAILS_WITH(
      run_cli("predict '" + model + "' -i 'csv:" + (t.dir / "none.csv").string() + "'"), 3,
      "none.csv");

  // label=none serves predict only.
  EXPECT_FAILS_WITH(run_cli("train -q -d 'csv:" + features.string() + "?label=none' -o '" +
                            (t.dir / "unlabelled").string() + "'"),
                    2, "has no labels or targets");

  const auto state = (t.dir / "state.pt").string();
  const auto dict =
      run_cli("export '" + t.run.string() + "' --format state-dict -o '" + state + "'");
  ASSERT_EQ(dict.code, 0) << dict.output;
  EXPECT_GT(fs::file_size(state), 0u);
}

TEST(PredictCli, EvalPrintsTheConfusionMatrixAndRefusesChangedData) {
  const auto t = train_csv_run();
  const auto eval = run_cli("eval '" + t.run.string() + "'");
  ASSERT_EQ(eval.code, 0) << eval.output;
  EXPECT_NE(eval.output.find("| true \\ predicted | 0 | 1 | 2 | samples | accuracy (%) |"),
            std::string::npos)
      << eval.output;

  testing::write_class_table(t.data, true, 93);  // the data changed since training
  EXPECT_FAILS_WITH(run_cli("eval '" + t.run.string() + "'"), 3, "changed since training");
  const auto allowed = run_cli("eval '" + t.run.string() + "' --allow-changed-data");
  EXPECT_EQ(allowed.code, 0) << allowed.output;
  EXPECT_NE(allowed.output.find("warning: "), std::string::npos) << allowed.output;
  const auto features = t.dir / "features.csv";
  testing::write_class_table(features, false, 3);
  EXPECT_FAILS_WITH(run_cli("predict '" + t.run.string() + "' -i 'csv:" + features.string() + "'"),
                    3, "changed since training");
}

TEST(PredictCli, PlotDrawsLossAndAccuracyByDefault) {
  if (plot::find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const auto t = train_csv_run();
  const auto o = run_cli("plot '" + t.run.string() + "'");
  ASSERT_EQ(o.code, 0) << o.output;
  for (const char* metric : {"train_loss", "test_loss", "test_accuracy"}) {
    const auto svg = t.run / "plots" / (std::string("run-") + metric + ".svg");
    ASSERT_TRUE(fs::exists(svg)) << o.output;
    const auto series = testing::svg_data_series(testing::file_text(svg));
    EXPECT_FALSE(series.empty()) << svg;
    for (const auto& s : series) EXPECT_TRUE(s.drawn) << svg << ": " << s.id;
  }
}

}  // namespace
}  // namespace octrain::train
