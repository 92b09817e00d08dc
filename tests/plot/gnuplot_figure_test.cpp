#include "octrain/plot/gnuplot_figure.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "octrain/util/error.h"

namespace octrain::plot {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir() {
  const char* env = std::getenv("OCTRAIN_TEST_TMP");
  const fs::path base = env && *env ? fs::path(env) : fs::temp_directory_path();
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir =
      base / "plot" / (std::string(info->name()) + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

GnuplotFigure sine_figure() {
  GnuplotFigure figure("sine");
  std::vector<std::vector<double>> rows;
  for (int i = 0; i <= 20; ++i) rows.push_back({0.1 * i, std::sin(0.1 * i)});
  rows.push_back({2.1, std::nan("")});
  const auto file = figure.table("curve", {"x", "sin_x"}, rows);
  figure.command("set title 'a sine curve'")
      .command("plot " + file + " using 1:2 with lines title 'sin'");
  return figure;
}

TEST(GnuplotFigure, WritesDataScriptAndAnSvgWithTheGivenElements) {
  if (find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const fs::path dir = fresh_dir();
  const std::string svg = sine_figure().render(dir.string());
  EXPECT_EQ(svg, (dir / "sine.svg").string());
  const std::string picture = read(svg);
  EXPECT_NE(picture.find("<svg"), std::string::npos);
  EXPECT_NE(picture.find("a sine curve"), std::string::npos);
  EXPECT_NE(picture.find("<path"), std::string::npos);
  const std::string data = read(dir / "sine-curve.dat");
  EXPECT_EQ(data.rfind("# x sin_x\n0 0\n", 0), 0u) << data;
  EXPECT_NE(data.find("2.1 NaN"), std::string::npos);
  EXPECT_NE(read(dir / "sine.gp").find("plot 'sine-curve.dat' using 1:2"), std::string::npos);
  // No temporary files are left behind.
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
}

TEST(GnuplotFigure, AScriptErrorIsReportedWithGnuplotsMessage) {
  if (find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  GnuplotFigure figure("broken");
  figure.command("plot 'no-such-file.dat' using 1:2");
  try {
    figure.render(fresh_dir().string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-file.dat"), std::string::npos) << e.what();
  }
}

TEST(GnuplotFigure, MissingGnuplotIsAClearUsageError) {
  ::setenv("OCTRAIN_GNUPLOT", "/nonexistent/gnuplot", 1);
  EXPECT_TRUE(find_gnuplot().empty());
  try {
    sine_figure().render(fresh_dir().string());
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("gnuplot is not installed"), std::string::npos);
  }
  ::unsetenv("OCTRAIN_GNUPLOT");
}

TEST(GnuplotFigure, RowsMustMatchTheColumns) {
  GnuplotFigure figure("bad");
  EXPECT_THROW(figure.table("t", {"a", "b"}, {{1.0}}), Error);
}

}  // namespace
}  // namespace octrain::plot
