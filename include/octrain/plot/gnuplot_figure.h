#pragma once

#include <string>
#include <vector>

namespace octrain::plot {

// A figure drawn by gnuplot. render() writes, side by side in one folder,
//   NAME-TABLE.dat  each data table (whitespace-separated, a '#' header naming the columns),
//   NAME.gp         the script (terminal, output and the commands given here),
//   NAME.svg        the picture, by running gnuplot on NAME.gp in that folder,
// so a user can edit NAME.gp and re-render with `gnuplot NAME.gp`.
class GnuplotFigure {
 public:
  // `name` becomes the file stem; width × height in pixels.
  explicit GnuplotFigure(std::string name, int width = 800, int height = 560);

  // Adds a table; returns its file name (quoted for gnuplot) for use in plot commands. Rows may
  // contain NaN (written as NaN, which gnuplot skips). An empty row starts a new data block, as
  // gnuplot's pm3d and `index` expect.
  std::string table(const std::string& table_name, const std::vector<std::string>& columns,
                    const std::vector<std::vector<double>>& rows);
  // Appends script lines after the terminal set-up.
  GnuplotFigure& command(const std::string& line);

  // Writes the files into `dir` (created if needed) and runs gnuplot; returns the SVG's path.
  // Throws UsageError when gnuplot is not installed, Error when gnuplot fails (with its message).
  std::string render(const std::string& dir) const;

  const std::string& name() const { return name_; }

 private:
  struct Table {
    std::string file;
    std::vector<std::string> columns;
    std::vector<std::vector<double>> rows;
  };
  std::string name_;
  int width_, height_;
  std::vector<Table> tables_;
  std::vector<std::string> commands_;
};

// The gnuplot executable: $OCTRAIN_GNUPLOT if set, else `gnuplot` on PATH; empty if not found.
std::string find_gnuplot();

}  // namespace octrain::plot
