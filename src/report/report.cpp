#include "octrain/report/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "octrain/plot/gnuplot_figure.h"
#include "octrain/report/report_document.h"
#include "octrain/report/seed_statistics.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/build_info.h"
#include "octrain/util/file_name.h"

namespace octrain::report {
namespace {

struct MetricInfo {
  const char* key;
  const char* title;
  bool percent;  // a fraction shown in %, so bands stay within [0, 100]
  bool log_scale;
  SeedCurve SeedRun::*curve;
};

// Series with fewer points than this are drawn as points with ± std error bars (a band or a
// line needs two points, and a handful of evaluations reads better as marks).
constexpr size_t kFewPoints = 20;

// Methods per figure: one colour of the palette each, and a legend that fits below the data
// (gnuplot silently drops the key entries that do not fit, so a 48-method study showed 22
// curves without a name). Larger experiments get several figures per metric.
constexpr size_t kMethodsPerFigure = 7;

const MetricInfo kCurves[] = {
    {"train_loss", "training loss (per batch)", false, true, &SeedRun::train_loss},
    {"test_loss", "test loss", false, true, &SeedRun::test_loss},
    {"test_accuracy", "test accuracy (%)", true, false, &SeedRun::test_accuracy},
};

std::string gnuplot_text(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out;
}

std::string formatted(const MeanStd& v, bool percent, int digits) {
  if (v.n == 0) return "–";
  const double scale = percent ? 100 : 1;
  if (v.n == 1) return fmt::format("{:.{}f}", scale * v.mean, digits);
  return fmt::format("{:.{}f} ± {:.{}f}", scale * v.mean, digits, scale * v.std, digits);
}

MeanStd final_metric(const MethodRuns& m, const std::string& key) {
  std::vector<double> values;
  for (const auto& run : m.seeds) {
    if (run.diverged) continue;
    auto it = run.final_metrics.find(key);
    if (it != run.final_metrics.end()) values.push_back(it->second);
  }
  return mean_std(values);
}

// One figure per metric: against iteration (left) and training time (right).
std::string metric_figure(const Experiment& e, const MetricInfo& metric, const std::string& stem,
                          const std::string& dir, size_t max_points, const std::string& part) {
  plot::GnuplotFigure figure(stem, 1100, 480);
  struct Series {
    std::string file, label;
    bool few;  // drawn as points with error bars
  };
  std::vector<Series> tables;
  bool positive = true;  // every mean > 0: losses go on a log axis
  for (size_t i = 0; i < e.methods.size(); ++i) {
    std::vector<const SeedCurve*> curves;
    for (const auto& run : e.methods[i].seeds) curves.push_back(&(run.*(metric.curve)));
    const auto band = seed_band(curves, max_points);
    if (band.empty()) continue;
    const double scale = metric.percent ? 100 : 1;
    std::vector<std::vector<double>> rows;
    for (const auto& p : band) {
      positive = positive && p.mean > 0;
      // Losses and accuracies are ≥ 0 (on a log axis a band reaching zero is drawn down to a
      // tenth of the mean instead); accuracies ≤ 100 %.
      const double low =
          metric.log_scale && p.mean - p.std <= 0 ? p.mean / 10 : std::max(0.0, p.mean - p.std);
      const double high = metric.percent ? std::min(1.0, p.mean + p.std) : p.mean + p.std;
      rows.push_back({p.step, p.seconds, scale * p.mean, scale * low, scale * high});
    }
    tables.push_back(
        {figure.table(fmt::format("m{}", i), {"step", "seconds", "mean", "low", "high"}, rows),
         e.methods[i].label, rows.size() < kFewPoints});
  }
  if (tables.empty()) return "";
  const bool log_scale = metric.log_scale && positive;
  // Labels are plain text (no enhanced-text markup, so '_' stays '_'); the legend sits below
  // the data, one keyentry per method, so every drawn series is a data series.
  figure.command("set termoption noenhanced")
      .command(fmt::format("set multiplot layout 1,2 title '{}: {}{}'", gnuplot_text(e.name),
                           metric.title, gnuplot_text(part)))
      .command("set grid")
      .command("set key below horizontal")
      .command(fmt::format("set ylabel '{}'", gnuplot_text(metric.title)))
      .command(log_scale ? "set logscale y" : "unset logscale y")
      .command("set format y '%g'")
      .command("set style fill transparent solid 0.2 noborder");
  for (const auto& [column, label] :
       {std::pair{1, "iteration"}, std::pair{2, "training time (s)"}}) {
    figure.command(fmt::format("set xlabel '{}'", label));
    std::vector<std::string> plots;
    for (size_t k = 0; k < tables.size(); ++k) {
      const auto& s = tables[k];
      if (s.few)
        plots.push_back(
            fmt::format("{} using {}:3:4:5 with yerrorlines lw 2 pt 7 ps 0.8 lc {} notitle", s.file,
                        column, k + 1));
      else
        plots.push_back(
            fmt::format("{0} using {1}:4:5 with filledcurves lc {2} notitle, {0} "
                        "using {1}:3 with lines lw 2 lc {2} notitle",
                        s.file, column, k + 1));
      plots.push_back(fmt::format("keyentry with {} lw 2 lc {} title '{}'",
                                  s.few ? "linespoints pt 7 ps 0.8" : "lines", k + 1,
                                  gnuplot_text(s.label)));
    }
    figure.command(fmt::format("plot {}", fmt::join(plots, ", ")));
  }
  figure.command("unset multiplot");
  return figure.render(dir);
}

std::string facts_line(const Experiment& e) {
  std::vector<std::string> parts;
  for (const auto& [key, value] : e.facts.items()) {
    if (value.is_null() || (value.is_string() && value.get<std::string>().empty())) continue;
    if (key == "train_limit" && value == 0) continue;
    parts.push_back(
        fmt::format("{} `{}`", key, value.is_string() ? value.get<std::string>() : value.dump()));
  }
  return fmt::format("{}", fmt::join(parts, " · "));
}

void final_table(ReportDocument& doc, const Experiment& e) {
  bool accuracy = false, nonzero = false, validation = false, validation_accuracy = false;
  for (const auto& m : e.methods) {
    accuracy = accuracy || final_metric(m, "test_accuracy").n > 0;
    nonzero = nonzero || final_metric(m, "nonzero").n > 0;
    validation = validation || final_metric(m, "validation_loss").n > 0;
    validation_accuracy = validation_accuracy || final_metric(m, "validation_accuracy").n > 0;
  }
  std::vector<std::string> header = {"method", "runs", "final train loss"};
  if (validation) header.push_back("validation loss");
  if (validation_accuracy) header.push_back("validation accuracy (%)");
  header.push_back("test loss");
  if (accuracy) header.push_back("test accuracy (%)");
  if (nonzero) header.push_back("non-zero weights (%)");
  header.push_back("step (ms)");
  std::vector<std::vector<std::string>> rows = {header};
  for (const auto& m : e.methods) {
    size_t diverged = 0;
    std::vector<double> step_ms;
    for (const auto& run : m.seeds) {
      diverged += run.diverged;
      step_ms.push_back(run.mean_step_ms);
    }
    std::vector<std::string> row = {m.label,
                                    diverged
                                        ? fmt::format("{} ({} diverged)", m.seeds.size(), diverged)
                                        : std::to_string(m.seeds.size()),
                                    formatted(final_metric(m, "train_loss"), false, 4)};
    if (validation) row.push_back(formatted(final_metric(m, "validation_loss"), false, 4));
    if (validation_accuracy)
      row.push_back(formatted(final_metric(m, "validation_accuracy"), true, 2));
    row.push_back(formatted(final_metric(m, "test_loss"), false, 4));
    if (accuracy) row.push_back(formatted(final_metric(m, "test_accuracy"), true, 2));
    if (nonzero) row.push_back(formatted(final_metric(m, "nonzero"), true, 2));
    row.push_back(formatted(mean_std(step_ms), false, 3));
    rows.push_back(row);
  }
  doc.table(rows);
}

// The reference row beside octrain's values. A reference value belongs to the compare entry
// whose label is its key, else to the entries running the method of that name.
void reference_section(ReportDocument& doc, const Experiment& e) {
  const auto& ref = *e.reference;
  doc.heading(3, fmt::format("Reference: {} (`{}`)", ref.row.description, ref.name));
  std::vector<std::string> facts = {"table: " + ref.title, "source: " + ref.source,
                                    "certainty: " + ref.certainty};
  if (!ref.row.setting.empty()) facts.push_back("published setting: " + ref.row.setting);
  if (!ref.note.empty()) facts.push_back("note: " + ref.note);
  doc.bullets(facts);
  std::vector<std::vector<std::string>> rows = {{"metric", "method", "reference", "octrain"}};
  for (const auto& metric : train::reference_metrics()) {
    auto values = ref.row.values.find(metric);
    if (values == ref.row.values.end()) continue;
    const bool percent = train::is_percent_metric(metric);
    for (const auto& [key, value] : values->second) {
      std::vector<const MethodRuns*> matches;
      for (const auto& m : e.methods)
        if (m.label == key) matches.push_back(&m);
      if (matches.empty())
        for (const auto& m : e.methods)
          if (m.method == key) matches.push_back(&m);
      const std::string shown = percent ? fmt::format("{:g} %", value) : fmt::format("{:g}", value);
      if (matches.empty()) rows.push_back({metric, key, shown, "not run here"});
      for (const auto* m : matches) {
        const auto ours = final_metric(*m, metric);
        rows.push_back(
            {metric, m->label == key ? key : fmt::format("{} ({})", key, m->label), shown,
             ours.n ? formatted(ours, percent, percent ? 2 : 4) + (percent ? " %" : "") : "–"});
      }
    }
  }
  if (rows.size() > 1) doc.table(rows);
  if (!ref.row.claims.empty()) {
    doc.paragraph("Claims the paper makes, to check against the curves:");
    doc.bullets(ref.row.claims);
  }
}

}  // namespace

std::vector<MetricFigure> write_metric_figures(const Experiment& e, const std::string& stem,
                                               const std::string& dir, size_t max_points) {
  // The methods in consecutive groups of (nearly) equal size, at most kMethodsPerFigure each.
  const size_t n = e.methods.size();
  const size_t parts = std::max<size_t>(1, (n + kMethodsPerFigure - 1) / kMethodsPerFigure);
  const size_t per_part = (n + parts - 1) / parts;
  std::vector<MetricFigure> figures;
  for (const auto& metric : kCurves) {
    for (size_t k = 0; k < parts; ++k) {
      Experiment group = e;
      group.methods.assign(e.methods.begin() + long(std::min(n, k * per_part)),
                           e.methods.begin() + long(std::min(n, (k + 1) * per_part)));
      if (group.methods.empty()) continue;
      const std::string name =
          parts == 1 ? stem + "-" + metric.key : fmt::format("{}-{}-{}", stem, metric.key, k + 1);
      const std::string part = parts == 1 ? "" : fmt::format(" ({} of {})", k + 1, parts);
      auto svg = metric_figure(group, metric, name, dir, max_points, part);
      if (!svg.empty()) figures.push_back({std::move(svg), metric.title + part});
    }
  }
  return figures;
}

ReportFiles write_report(const std::vector<Experiment>& experiments, const ReportOptions& options) {
  namespace fs = std::filesystem;
  fs::create_directories(options.out + "/figures");
  ReportFiles files;
  ReportDocument doc(options.title);
  doc.paragraph(fmt::format(
      "Drawn by `octrain report` (octrain {}, revision {}). Values are mean ± sample standard "
      "deviation over seeds; diverged runs are counted but left out of the means. Curves show the "
      "mean over seeds with a ± 1 std band; training losses are averaged over bins of iterations. "
      "Training time excludes evaluation.",
      version(), git_revision()));
  std::set<std::string> stems;
  for (const auto& e : experiments) {
    std::string stem = safe_file_name(e.name);
    for (int k = 2; !stems.insert(stem).second; ++k)
      stem = fmt::format("{}-{}", safe_file_name(e.name), k);
    doc.heading(2, e.name);
    doc.paragraph(fmt::format("`{}` — {}", e.dir, facts_line(e)));
    final_table(doc, e);
    if (e.reference) reference_section(doc, e);
    for (const auto& figure :
         write_metric_figures(e, stem, options.out + "/figures", options.max_points)) {
      files.figures.push_back(figure.svg);
      doc.figure("figures/" + fs::path(figure.svg).filename().string(),
                 fmt::format("{}: {} against iteration and training time", e.name, figure.title));
    }
  }
  files.markdown = options.out + "/report.md";
  files.html = options.out + "/index.html";
  write_text_atomically(files.markdown, doc.markdown());
  write_text_atomically(files.html, doc.html());
  return files;
}

}  // namespace octrain::report
