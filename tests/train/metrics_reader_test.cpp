// The one metrics.jsonl reader: every damaged line is a DataError naming the file and line, in
// the library and through resume, `plot` and `report`.
#include "octrain/train/metrics_reader.h"

#include <gtest/gtest.h>

#include <fstream>

#include "cli_runner.h"
#include "octrain/util/error.h"
#include "run_helpers.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

using testing::run_cli;

const char* const kDamaged[] = {"[1,2]",
                                "5",
                                "null",
                                R"({"kind":5,"step":1})",
                                R"({"kind":"step","step":"abc"})",
                                R"({"kind":"step","step":-4})",
                                R"({"kind":"diagnostics","step":1})",
                                R"({"kind":"diagnostics","step":1,"costate_norm":["x"]})",
                                "not json",
                                "{\"kind\":\"step\""};

TEST(MetricsReader, RefusesEachDamagedLineByFileAndLine) {
  for (const char* line : kDamaged) {
    try {
      parse_metrics_line(line, "m.jsonl:7");
      ADD_FAILURE() << "accepted " << line;
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("m.jsonl:7: ", 0), 0u) << e.what();
    }
  }
  EXPECT_NO_THROW(parse_metrics_line(R"({"kind":"diagnostics","step":3,"costate_norm":[1,null]})",
                                     "m.jsonl:1"));
}

TEST(MetricsReader, BoundsNesting) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_THROW(parse_metrics_line(deep, "m"), DataError);
  const std::string nested_string = R"({"kind":"step","note":")" + std::string(1000, '[') + "\"}";
  EXPECT_NO_THROW(parse_metrics_line(nested_string, "m"));  // brackets inside strings do not count
}

TEST(MetricsReader, DropsOnlyATornLastLine) {
  const auto dir = testing::fresh_dir();
  const auto path = (dir / "metrics.jsonl").string();
  std::ofstream(path) << "{\"kind\":\"step\",\"step\":1}\n{\"kind\":\"st";
  EXPECT_EQ(read_metrics(path).size(), 1u);
  std::ofstream(path) << "{\"kind\":\"step\",\"step\":1}\n[1]\n{\"kind\":\"step\",\"step\":2}\n";
  EXPECT_THROW(read_metrics(path), DataError);
  MetricsReadOptions skip;
  skip.skip_damaged = true;
  EXPECT_EQ(read_metrics(path, skip).size(), 2u);  // keeps the record after the damage
  EXPECT_THROW(read_metrics((dir / "none.jsonl").string()), DataError);
}

// A small run with diagnostics records, then a damaged line in the middle of its log.
fs::path damaged_run(const std::string& line) {
  const auto dir = testing::fresh_dir("run");
  fs::remove_all(dir);
  const auto o = run_cli(
      "train -q -d toy-sin -m mlp:1-8-1:tanh -e 2 -b 25 --threads 1 "
      "--diagnostics 2 -o '" +
      dir.string() + "'");
  EXPECT_EQ(o.code, 0) << o.output;
  std::ifstream in(dir / "metrics.jsonl");
  std::string text, l;
  for (int n = 0; std::getline(in, l); ++n) text += (n == 3 ? line + "\n" : "") + l + "\n";
  std::ofstream(dir / "metrics.jsonl") << text;
  return dir;
}

TEST(MetricsReader, ResumePlotAndReportRefuseADamagedLog) {
  for (const char* line : {"[1,2]", R"({"kind":"diagnostics","step":1})"}) {
    const auto dir = damaged_run(line);
    const std::string where = (dir / "metrics.jsonl").string() + ":4";
    EXPECT_FAILS_WITH(run_cli("train -q --resume '" + dir.string() + "' -e 3"), 3, where);
    EXPECT_FAILS_WITH(run_cli("plot '" + dir.string() + "' --diagnostics"), 3, where);
    EXPECT_FAILS_WITH(run_cli("report '" + dir.string() + "' -o '" + (dir / "r").string() + "'"), 3,
                      where);
  }
}

TEST(MetricsReader, ResumeSkipsDamagedLinesOnlyWhenTold) {
  const auto dir = damaged_run("garbage");
  const auto before = read_metrics((dir / "metrics.jsonl").string(), {true, true}).size();
  const auto o = run_cli("train -q --resume '" + dir.string() + "' -e 3 --skip-damaged-metrics");
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("notice: skipping"), std::string::npos);
  // Every earlier record survives (none after the damage is dropped) and epoch 3 is appended.
  EXPECT_GT(read_metrics((dir / "metrics.jsonl").string()).size(), before);
}

}  // namespace
}  // namespace octrain::train
