#include "octrain/report/report.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "octrain/plot/gnuplot_figure.h"
#include "octrain/report/seed_statistics.h"
#include "octrain/train/compare.h"
#include "octrain/train/reference_table.h"
#include "octrain/util/error.h"
#include "report_fixtures.h"
#include "run_helpers.h"
#include "svg_series.h"

namespace octrain::report {
namespace fs = std::filesystem;
namespace {

std::string text_of(const fs::path& path) {
  std::stringstream s;
  s << std::ifstream(path).rdbuf();
  return s.str();
}

const char* kReferenceToml = R"(title = "Test table"
source = "a test"
certainty = "exact"
[[row]]
id = "digits"
description = "FC DIGITS"
claims = ["Adam wins"]
[row.test_accuracy]
sgd = 94.4
adam = 95.0
ekfac = 95.2
)";

TEST(Report, SeedStatistics) {
  const auto v = mean_std({0.4, 0.6, std::nan("")});
  EXPECT_EQ(v.n, 2u);
  EXPECT_DOUBLE_EQ(v.mean, 0.5);
  EXPECT_NEAR(v.std, 0.141421356, 1e-8);
  // Two seeds over 4 iterations, binned into 2 points of 2 iterations each.
  SeedCurve a{{1, 2, 3, 4}, {1, 2, 3, 4}, {1, 3, 5, 7}};
  SeedCurve b{{1, 2, 3, 4}, {2, 4, 6, 8}, {3, 5, 7, 9}};
  const auto band = seed_band({&a, &b}, 2);
  ASSERT_EQ(band.size(), 2u);
  EXPECT_DOUBLE_EQ(band[0].step, 1.5);
  EXPECT_DOUBLE_EQ(band[0].seconds, 2.25);
  EXPECT_DOUBLE_EQ(band[0].mean, 3.0);  // seed means 2 and 4
  EXPECT_NEAR(band[0].std, std::sqrt(2.0), 1e-12);
  EXPECT_DOUBLE_EQ(band[1].mean, 7.0);
}

TEST(Report, SyntheticGridGivesTableAndFigures) {
  if (plot::find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const auto dir = train::testing::fresh_dir();
  fs::create_directories(dir / "refs");
  std::ofstream(dir / "refs" / "test.toml") << kReferenceToml;
  const auto reference = train::find_reference((dir / "refs").string(), "test:digits");
  train::testing::write_synthetic_grid(dir / "grid", reference.to_json().dump());

  const auto experiment = load_experiment((dir / "grid").string());
  ASSERT_EQ(experiment.methods.size(), 2u);
  EXPECT_EQ(experiment.methods[0].label, "sgd:lr=0.1");
  EXPECT_EQ(experiment.methods[0].seeds[1].seed, 1u);
  EXPECT_NEAR(experiment.methods[0].seeds[1].train_loss.seconds.back(), 0.040, 1e-12);
  ASSERT_TRUE(experiment.reference);

  ReportOptions options;
  options.out = (dir / "report").string();
  const auto files = write_report({experiment}, options);
  const auto md = text_of(files.markdown);
  // sgd: train loss 0.5 ± 0.1414, accuracy 85 ± 7.07 %, 2 ms per step; adam: one value, no std.
  EXPECT_NE(md.find("| sgd:lr=0.1 | 2 | 0.5000 ± 0.1414 | 0.1500 ± 0.0707 | 85.00 ± 7.07 | "
                    "2.000 ± 0.000 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| Adam | 2 | 0.2000 ± 0.0000 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| test_accuracy | sgd (sgd:lr=0.1) | 94.4 % | 85.00 ± 7.07 % |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| test_accuracy | ekfac | 95.2 % | not run here |"), std::string::npos);
  EXPECT_NE(md.find("certainty: exact"), std::string::npos);
  EXPECT_NE(md.find("Adam wins"), std::string::npos);
  ASSERT_EQ(files.figures.size(), 3u);
  const auto html = text_of(files.html);
  for (const auto& svg : files.figures) {
    EXPECT_TRUE(fs::exists(svg)) << svg;
    const auto relative = "figures/" + fs::path(svg).filename().string();
    EXPECT_NE(md.find("(" + relative + ")"), std::string::npos) << relative;
    EXPECT_NE(html.find("src=\"" + relative + "\""), std::string::npos) << relative;
  }
  EXPECT_NE(html.find("<td class=\"num\">85.00 ± 7.07</td>"), std::string::npos);
}

// A single run is labelled with its method and the options that differ from the defaults;
// several are overlaid as one experiment (a label seen twice gets its directory's name).
TEST(Report, SingleRunsAreLabelledWithTheirOptionsAndOverlaid) {
  const auto dir = train::testing::fresh_dir();
  auto run = [&](const std::string& name, const std::string& method, const std::string& options) {
    train::testing::write_synthetic_run(dir / name, method, 10, 0.3, 0.9);
    std::ofstream(dir / name / "config.toml", std::ios::app) << options;
    return load_experiment((dir / name).string());
  };
  run("a", "adam", "lr = \"0.01\"\nbeta1 = \"0.9\"\n");
  std::ofstream(dir / "a" / "metrics.jsonl", std::ios::app)
      << R"({"kind":"epoch","epoch":2,"step":10,"train_loss":0.3,"validation_loss":0.25,)"
      << R"("validation_accuracy":0.8,"test_loss":0.1,"test_accuracy":0.9})"
      << "\n";
  const auto a = load_experiment((dir / "a").string());
  const auto b = run("b", "sgd", "momentum = \"0.9\"\n");
  const auto c = run("c", "adam", "lr = \"0.01\"\n");
  ASSERT_EQ(a.methods.size(), 1u);
  EXPECT_EQ(a.methods[0].label, "adam:lr=0.01");
  EXPECT_EQ(b.methods[0].label, "sgd:momentum=0.9");
  const auto merged = overlay_experiments({a, b, c});
  ASSERT_EQ(merged.methods.size(), 3u);
  EXPECT_EQ(merged.methods[0].label, "adam:lr=0.01 (a)");
  EXPECT_EQ(merged.methods[1].label, "sgd:momentum=0.9");
  EXPECT_EQ(merged.methods[2].label, "adam:lr=0.01 (c)");
  EXPECT_EQ(merged.facts.value("dataset", ""), "digits");
  EXPECT_EQ(merged.methods[0].seeds[0].final_metrics.at("validation_loss"), 0.25);
  if (plot::find_gnuplot().empty()) return;
  ReportOptions options;
  options.out = (dir / "report").string();
  const auto md = text_of(write_report({merged}, options).markdown);
  EXPECT_NE(md.find("| validation loss | validation accuracy (%) | test loss |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| adam:lr=0.01 (c) |"), std::string::npos) << md;
}

// Every series of every figure draws something, also the test curves of runs evaluated once
// (one point each); bands stay within [0, 100] %; labels are plain text.
TEST(Report, EveryFigureShowsEverySeries) {
  if (plot::find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const auto dir = train::testing::fresh_dir();
  train::testing::write_synthetic_grid(dir / "grid");
  // Accuracies 100 % and 90 %: mean + std is above 100 %.
  train::testing::write_synthetic_run(dir / "grid" / "Adam" / "seed-1", "adam", 20, 0.2, 0.9);
  train::testing::write_synthetic_run(dir / "grid" / "Adam" / "seed-0", "adam", 20, 0.2, 1.0);
  ReportOptions options;
  options.out = (dir / "report").string();
  const auto files = write_report({load_experiment((dir / "grid").string())}, options);
  ASSERT_EQ(files.figures.size(), 3u);
  for (const auto& svg : files.figures) {
    const auto series = train::testing::svg_data_series(train::testing::file_text(svg));
    // two panels × two methods × (band + line, or one error-bar series)
    EXPECT_GE(series.size(), 4u) << svg;
    for (const auto& s : series) EXPECT_TRUE(s.drawn) << svg << ": " << s.id << " draws nothing";
    const auto gp = train::testing::file_text(fs::path(svg).replace_extension(".gp"));
    EXPECT_NE(gp.find("set termoption noenhanced"), std::string::npos) << gp;
    EXPECT_NE(gp.find("set ylabel"), std::string::npos) << gp;
    EXPECT_NE(gp.find("set key below"), std::string::npos) << gp;
  }
  const auto accuracy = (dir / "report" / "figures" / "grid-test_accuracy-m1.dat").string();
  std::istringstream rows(train::testing::file_text(accuracy));
  int checked = 0;
  for (std::string line; std::getline(rows, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream values(line);
    double step, seconds, mean, low, high;
    values >> step >> seconds >> mean >> low >> high;
    EXPECT_LE(high, 100.0) << line;
    EXPECT_GE(low, 0.0) << line;
    ++checked;
  }
  EXPECT_EQ(checked, 1) << accuracy;
}

// A study of many methods is split into figures of at most 7, so every curve has its own colour
// and a legend entry (gnuplot drops key entries that do not fit: a 48-method study showed 22
// unnamed curves).
TEST(Report, ManyMethodsAreSplitIntoReadableFigures) {
  if (plot::find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const auto dir = train::testing::fresh_dir();
  std::string entries;
  for (int m = 0; m < 16; ++m) {
    const std::string label = fmt::format("method-{}", m);
    train::testing::write_synthetic_run(dir / "grid" / label / "seed-0", "sgd", 30, 0.1 * (m + 1),
                                        0.5 + 0.02 * m);
    entries +=
        fmt::format(R"({}{{"label":"{}","method":"sgd","dir":"{}"}})", m ? "," : "", label, label);
  }
  std::ofstream(dir / "grid" / "experiment.json")
      << R"({"dataset":"digits","model":"mlp:64-10","epochs":1,"batch_size":32,"seeds":[0],)"
      << R"("entries":[)" << entries << "]}\n";
  ReportOptions options;
  options.out = (dir / "report").string();
  const auto files = write_report({load_experiment((dir / "grid").string())}, options);
  ASSERT_EQ(files.figures.size(), 9u);  // 3 metrics × 3 figures of 6, 5 and 5 methods
  size_t legend_entries = 0;
  for (const auto& svg : files.figures) {
    const auto text = train::testing::file_text(svg);
    for (const auto& s : train::testing::svg_data_series(text))
      EXPECT_TRUE(s.drawn) << svg << " series " << s.id;
    for (int m = 0; m < 16; ++m)
      legend_entries += text.find(fmt::format("<text>method-{}</text>", m)) != std::string::npos;
  }
  EXPECT_EQ(legend_entries, 3u * 16u);
  const auto md = train::testing::file_text(files.markdown);
  EXPECT_NE(md.find("training loss (per batch) (2 of 3)"), std::string::npos) << md;
}

// The checker itself: a line through one point draws nothing, through two it does.
TEST(Report, SvgSeriesCheckerSeesEmptySeries) {
  if (plot::find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const auto dir = train::testing::fresh_dir();
  plot::GnuplotFigure figure("check", 400, 300);
  const auto one = figure.table("one", {"x", "y"}, {{1, 2}});
  const auto two = figure.table("two", {"x", "y"}, {{1, 2}, {2, 3}});
  figure.command("plot " + one + " using 1:2 with lines notitle, " + two +
                 " using 1:2 with lines notitle, " + one +
                 " using 1:2 with points notitle, keyentry with lines title 'legend'");
  const auto series =
      train::testing::svg_data_series(train::testing::file_text(figure.render(dir.string())));
  ASSERT_EQ(series.size(), 3u);
  EXPECT_FALSE(series[0].drawn);
  EXPECT_TRUE(series[1].drawn);
  EXPECT_TRUE(series[2].drawn);
}

TEST(Report, MissingOrCorruptRunsAreClearErrors) {
  const auto dir = train::testing::fresh_dir();
  EXPECT_THROW(load_experiment((dir / "nothing").string()), UsageError);
  fs::create_directories(dir / "empty");
  try {
    load_experiment((dir / "empty").string());
    FAIL() << "an empty directory was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("holds no runs"), std::string::npos) << e.what();
  }
  train::testing::write_synthetic_run(dir / "run", "sgd", 3, 0.5, 0.5);
  std::ofstream(dir / "run" / "metrics.jsonl", std::ios::app) << "{\"kind\":\"step\",\n";
  try {
    load_experiment((dir / "run").string());
    FAIL() << "a corrupt log was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.jsonl:5: not a metrics record"),
              std::string::npos)
        << e.what();
  }
}

TEST(Report, ReferenceTablesAreValidated) {
  const auto dir = train::testing::fresh_dir();
  std::ofstream(dir / "test.toml") << kReferenceToml;
  const auto ref = train::find_reference(dir.string(), "test:digits");
  EXPECT_DOUBLE_EQ(ref.row.values.at("test_accuracy").at("sgd"), 94.4);
  EXPECT_EQ(train::Reference::from_json(ref.to_json()).to_json(), ref.to_json());
  for (const char* bad : {"test:wine", "nope:digits", "test"}) {
    try {
      train::find_reference(dir.string(), bad);
      FAIL() << bad << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
  std::ofstream(dir / "broken.toml") << "title = \"t\"\nsource = \"s\"\n[[row]]\nid = \"r\"\n";
  EXPECT_THROW(train::read_reference_table((dir / "broken.toml").string()), UsageError);
  // Every table shipped in configs/references reads.
  for (const auto& entry : fs::directory_iterator(OCTRAIN_SOURCE_DIR "/configs/references"))
    EXPECT_NO_THROW(train::read_reference_table(entry.path().string())) << entry.path();
}

TEST(Report, ProfilesOverrideTopLevelKeys) {
  const auto dir = train::testing::fresh_dir();
  const auto path = (dir / "grid.toml").string();
  std::ofstream(path) << "dataset = \"toy-sin\"\nmodel = \"mlp:1-4-1\"\nepochs = 50\n"
                         "seeds = [0, 1, 2]\nreference = \"test:digits\"\n"
                         "[[run]]\nmethod = \"sgd\"\n"
                         "[profile.quick]\nepochs = 2\nseeds = [0]\ntrain_limit = 10\n"
                         "[profile.full]\nepochs = 500\n";
  train::CompareConfig top, quick;
  top.merge_toml_file(path);
  EXPECT_EQ(top.base.epochs, 50);
  EXPECT_EQ(top.seeds.size(), 3u);
  EXPECT_EQ(top.reference, "test:digits");
  quick.merge_toml_file(path, "quick");
  EXPECT_EQ(quick.base.epochs, 2);
  EXPECT_EQ(quick.base.train_limit, 10);
  EXPECT_EQ(quick.seeds, std::vector<uint64_t>{0});
  EXPECT_EQ(quick.profile, "quick");
  try {
    train::CompareConfig unknown;
    unknown.merge_toml_file(path, "medium");
    FAIL() << "an unknown profile was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("no profile 'medium' (profiles here: full, quick)"),
              std::string::npos)
        << e.what();
  }
  // A reference that names no table fails before any run.
  quick.base.out = (dir / "out").string();
  quick.references_dir = dir.string();
  EXPECT_THROW(train::run_compare(quick, true), UsageError);
  EXPECT_FALSE(fs::exists(dir / "out" / "sgd"));
}

}  // namespace
}  // namespace octrain::report
