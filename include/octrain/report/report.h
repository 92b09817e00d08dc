#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "octrain/report/experiment.h"

namespace octrain::report {

struct ReportOptions {
  std::string out;  // the report folder
  std::string title = "octrain report";
  size_t max_points = 400;  // per curve, after binning iterations
};

struct ReportFiles {
  std::string markdown, html;
  std::vector<std::string> figures;  // SVGs under <out>/figures
};

// Writes <out>/report.md and <out>/index.html with, per experiment, its settings, a table of
// final metrics per method (mean ± std over seeds, step time), the reference row beside
// octrain's values when the experiment names one, and gnuplot figures of training loss, test
// loss and test accuracy against iteration and against training time (mean ± std band over
// seeds), in <out>/figures/ and linked relatively, so the folder can be moved as a whole.
ReportFiles write_report(const std::vector<Experiment>& experiments, const ReportOptions& options);

// One experiment's figures (training loss, test loss, test accuracy, each against iteration and
// training time) as <dir>/<stem>-<metric>.svg with their .gp and .dat files; a metric no run
// logged gets no figure.
struct MetricFigure {
  std::string svg;    // its path
  std::string title;  // the metric, e.g. "test accuracy (%)"
};
std::vector<MetricFigure> write_metric_figures(const Experiment& experiment,
                                               const std::string& stem, const std::string& dir,
                                               size_t max_points = 400);

}  // namespace octrain::report
