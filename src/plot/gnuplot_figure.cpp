#include "octrain/plot/gnuplot_figure.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "octrain/util/atomic_file.h"
#include "octrain/util/error.h"

namespace octrain::plot {
namespace {

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Line colours 1…7: the Okabe–Ito palette, distinguishable with the common colour-vision
// deficiencies (its yellow left out: it does not show on white).
constexpr const char* kPalette =
    "set linetype 1 lc rgb '#0072B2'\n"
    "set linetype 2 lc rgb '#D55E00'\n"
    "set linetype 3 lc rgb '#009E73'\n"
    "set linetype 4 lc rgb '#CC79A7'\n"
    "set linetype 5 lc rgb '#E69F00'\n"
    "set linetype 6 lc rgb '#56B4E9'\n"
    "set linetype 7 lc rgb '#000000'\n"
    "set linetype cycle 7\n";

bool is_executable(const std::filesystem::path& path) {
  return ::access(path.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(path);
}

}  // namespace

std::string find_gnuplot() {
  if (const char* env = std::getenv("OCTRAIN_GNUPLOT"))
    return is_executable(env) ? std::string(env) : std::string();
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && is_executable(std::filesystem::path(dir) / "gnuplot"))
      return (std::filesystem::path(dir) / "gnuplot").string();
  return "";
}

GnuplotFigure::GnuplotFigure(std::string name, int width, int height)
    : name_(std::move(name)), width_(width), height_(height) {}

std::string GnuplotFigure::table(const std::string& table_name,
                                 const std::vector<std::string>& columns,
                                 const std::vector<std::vector<double>>& rows) {
  for (const auto& row : rows)
    if (!row.empty() && row.size() != columns.size())
      throw Error(ExitCode::kFailure,
                  fmt::format("figure {}: table {} has {} columns, a row has {}", name_, table_name,
                              columns.size(), row.size()));
  tables_.push_back({name_ + "-" + table_name + ".dat", columns, rows});
  return "'" + tables_.back().file + "'";
}

GnuplotFigure& GnuplotFigure::command(const std::string& line) {
  commands_.push_back(line);
  return *this;
}

std::string GnuplotFigure::render(const std::string& dir) const {
  const std::string gnuplot = find_gnuplot();
  if (gnuplot.empty())
    throw UsageError(fmt::format(
        "figure {}: gnuplot is not installed (Debian: apt-get install gnuplot-nox); the data "
        "files were not written either",
        name_));
  std::filesystem::create_directories(dir);
  for (const auto& t : tables_) {
    std::string text = "#";
    for (const auto& c : t.columns) text += " " + c;
    text += "\n";
    for (const auto& row : t.rows) {
      for (size_t i = 0; i < row.size(); ++i)
        text += (i ? " " : "") + (std::isfinite(row[i]) ? fmt::format("{:.10g}", row[i]) : "NaN");
      text += "\n";
    }
    write_text_atomically(dir + "/" + t.file, text);
  }
  const std::string svg = name_ + ".svg";
  // `output` can be preset with -e; render() uses that to write through a temporary name.
  std::string script = fmt::format(
      "# Re-render with: gnuplot {}.gp\n"
      "set terminal svg size {},{} dynamic enhanced font 'Helvetica,12' background rgb 'white'\n"
      "if (!exists(\"output\")) output = '{}'\n"
      "set output output\n"
      "{}",
      name_, width_, height_, svg, kPalette);
  for (const auto& c : commands_) script += c + "\n";
  write_text_atomically(dir + "/" + name_ + ".gp", script);

  const std::string temp = svg + ".tmp." + std::to_string(::getpid());
  const std::string shell =
      fmt::format("cd {} && {} -e {} {} 2>&1", shell_quoted(dir), shell_quoted(gnuplot),
                  shell_quoted("output='" + temp + "'"), shell_quoted(name_ + ".gp"));
  std::string messages;
  FILE* pipe = ::popen(shell.c_str(), "r");
  if (!pipe) throw Error(ExitCode::kFailure, "figure " + name_ + ": cannot start gnuplot");
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) messages += buffer;
  const int status = ::pclose(pipe);
  const std::filesystem::path temp_path = std::filesystem::path(dir) / temp;
  if (status != 0 || !std::filesystem::exists(temp_path)) {
    std::filesystem::remove(temp_path);
    std::replace(messages.begin(), messages.end(), '\n', ' ');
    throw Error(ExitCode::kFailure, fmt::format("figure {}: gnuplot failed on {}/{}.gp: {}", name_,
                                                dir, name_, messages));
  }
  std::filesystem::rename(temp_path, std::filesystem::path(dir) / svg);
  return dir + "/" + svg;
}

}  // namespace octrain::plot
