#include "octrain/report/meanfield_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "octrain/analysis/activation_functions.h"
#include "octrain/analysis/mean_field.h"
#include "octrain/data/dataset.h"
#include "octrain/plot/gnuplot_figure.h"
#include "octrain/train/trainer.h"
#include "octrain/util/error.h"

namespace octrain::report {

std::string phase_diagram_figure(const std::string& activation,
                                 const std::vector<analysis::PhasePoint>& points,
                                 const std::vector<double>& sigma_w2,
                                 const std::vector<double>& sigma_b2,
                                 const analysis::GaussHermite& rule, const std::string& out) {
  const auto& phi = analysis::activation_functions(activation);
  constexpr double kXiCap = 60;  // ξ_c diverges on the transition; the colour scale stops here
  std::vector<std::vector<double>> image, line;
  for (size_t k = 0; k < points.size(); ++k) {
    const auto& p = points[k];
    const double xi = p.fixed_point.xi_c;
    image.push_back({p.sigma_w2, p.sigma_b2, std::isnan(xi) ? NAN : std::min(xi, kXiCap)});
    if ((k + 1) % sigma_b2.size() == 0) image.emplace_back();  // one block per σ_w² column
  }
  for (double b : analysis::linspace(sigma_b2.front(), sigma_b2.back(), 81)) {
    const double w = analysis::critical_sigma_w2(phi, b, rule);
    if (w >= sigma_w2.front() && w <= sigma_w2.back()) line.push_back({w, b});
  }
  plot::GnuplotFigure figure("phase_diagram", 800, 600);
  const auto image_file = figure.table("xi_c", {"sigma_w2", "sigma_b2", "xi_c"}, image);
  const auto line_file = figure.table("critical", {"sigma_w2", "sigma_b2"}, line);
  figure
      .command(
          fmt::format("set title '{} order-to-chaos phase diagram: depth scale ξ_c'", phi.name))
      .command("set xlabel 'σ_w^2'")
      .command("set ylabel 'σ_b^2'")
      .command(fmt::format("set cblabel 'ξ_c (capped at {})'", kXiCap))
      .command(fmt::format("set xrange [{}:{}]", sigma_w2.front(), sigma_w2.back()))
      .command(fmt::format("set yrange [{}:{}]", sigma_b2.front(), sigma_b2.back()))
      .command("set palette rgb 33,13,10")
      .command("set key top left box opaque")
      .command("set label 'ordered (χ_1 < 1)' at graph 0.05,0.8 front")
      .command("set label 'chaotic (χ_1 > 1)' at graph 0.75,0.3 front")
      .command("plot " + image_file + " using 1:2:3 with image notitle, " + line_file +
               " using 1:2 with lines lw 3 lc rgb 'black' title 'χ_1 = 1'");
  return figure.render(out);
}

std::string signal_propagation_figure(const analysis::SignalStudy& study,
                                      const std::string& activation, int width, double sigma_w2,
                                      double sigma_b2, const std::string& out) {
  const auto& phi = analysis::activation_functions(activation);
  std::vector<std::vector<double>> rows;
  for (const auto& r : study.rows)
    rows.push_back({double(r.layer), r.q_a, r.q_a_theory, r.q_b, r.q_b_theory, r.c, r.c_theory});
  plot::GnuplotFigure signal("signal_propagation", 1000, 450);
  const auto file = signal.table(
      "layers", {"layer", "q_a", "q_a_theory", "q_b", "q_b_theory", "c", "c_theory"}, rows);
  signal
      .command(fmt::format(
          "set multiplot layout 1,2 title \"{}, width {}, init normal(σ_w^2={}, σ_b^2={})\\n"
          "measured (points) vs mean field (lines)\"",
          phi.name, width, sigma_w2, sigma_b2))
      .command("set xlabel 'layer l'")
      .command("set ylabel 'q^l'")
      .command("set key top right")
      .command("plot " + file + " using 1:2 with points pt 7 lc 1 title 'q_a', " + file +
               " using 1:3 with lines lc 1 notitle, " + file +
               " using 1:4 with points pt 5 lc 2 title 'q_b', " + file +
               " using 1:5 with lines lc 2 notitle")
      .command("set ylabel 'c^l'")
      .command("plot " + file + " using 1:6 with points pt 7 lc 3 title 'c measured', " + file +
               " using 1:7 with lines lc 3 title 'c theory'")
      .command("unset multiplot");
  return signal.render(out);
}

std::string jacobian_spectrum_figure(const std::vector<analysis::JacobianSpectrum>& spectra,
                                     const std::string& activation, int depth, double sigma_w2,
                                     double sigma_b2, const std::string& out) {
  const auto& phi = analysis::activation_functions(activation);
  plot::GnuplotFigure spectrum("jacobian_spectrum", 800, 560);
  std::string plot_line = "plot ";
  for (const auto& s : spectra) {
    std::vector<std::vector<double>> quantiles;
    const auto n = s.singular_values.size();
    for (size_t i = 0; i < n; ++i)
      quantiles.push_back({(double(i) + 0.5) / double(n), s.singular_values[i]});
    plot_line += (plot_line.size() > 5 ? ", " : "") +
                 spectrum.table(s.weights, {"quantile", "singular_value"}, quantiles) +
                 fmt::format(" using 1:2 with lines lw 2 title '{} weights'", s.weights);
  }
  spectrum
      .command(fmt::format(
          "set title \"input–output Jacobian singular values\\n{} {} layers, σ_w^2={}, σ_b^2={}\"",
          depth, phi.name, sigma_w2, sigma_b2))
      .command("set xlabel 'quantile'")
      .command("set ylabel 'singular value'")
      .command("set logscale y")
      .command("set key top left")
      .command(plot_line);
  return spectrum.render(out);
}

std::vector<TrainabilityCell> trainability_grid(
    const TrainabilityOptions& o, const std::string& out,
    const std::function<void(const TrainabilityCell&)>& on_cell) {
  train::RunConfig base;
  base.dataset = o.dataset;
  base.set("method", o.method);
  base.epochs = o.epochs;
  base.seed = uint64_t(o.seed);
  base.threads = 1;
  base.batch_size = 64;
  const auto data = data::load_dataset(base.dataset, train::load_options_for(base));
  if (data.input_shape.size() != 1 || data.task != data::Task::kClassification)
    throw UsageError(o.dataset + ": --trainability needs a classification dataset of vectors");
  std::vector<TrainabilityCell> cells;
  for (double w : o.sigma_w2) {
    for (double d : o.depths) {
      train::RunConfig config = base;
      config.model = analysis::mean_field_mlp_spec(
          data.input_shape[0], o.width, int(d), data.num_classes,
          fmt::format("{}:init=normal,sw2={},sb2={}", o.activation, w, o.sigma_b2));
      config.out = fmt::format("{}/runs/depth{}-sw2_{}", out, d, w);
      std::filesystem::remove_all(config.out);
      double accuracy = NAN;
      try {
        train::RunOptions options;
        options.quiet = true;
        options.dataset = &data;
        accuracy = train::run_training(config, options).test.accuracy;
      } catch (const DivergenceError&) {
      }
      std::filesystem::remove(config.out + "/checkpoint.pt");  // only the metrics are kept
      cells.push_back({d, w, accuracy});
      if (on_cell) on_cell(cells.back());
    }
  }
  return cells;
}

std::string trainability_figure(const TrainabilityOptions& o,
                                const std::vector<TrainabilityCell>& cells,
                                const analysis::GaussHermite& rule, const std::string& out) {
  const auto& phi = analysis::activation_functions(o.activation);
  std::vector<std::vector<double>> grid, scale;
  for (size_t k = 0; k < cells.size(); ++k) {
    grid.push_back({cells[k].sigma_w2, cells[k].depth, cells[k].test_accuracy});
    if ((k + 1) % o.depths.size() == 0) grid.emplace_back();  // one block per σ_w²
  }
  for (double w : analysis::linspace(o.sigma_w2.front(), o.sigma_w2.back(), 121))
    scale.push_back({w, 6 * analysis::MeanField(phi, w, o.sigma_b2, rule).fixed_point().xi_c});
  plot::GnuplotFigure figure("trainability", 800, 600);
  const auto cell_file = figure.table("accuracy", {"sigma_w2", "depth", "test_accuracy"}, grid);
  const auto scale_file = figure.table("six_xi_c", {"sigma_w2", "six_xi_c"}, scale);
  figure
      .command(fmt::format(
          "set title \"{}-wide {} MLPs on {}, σ_b^2={}: test accuracy\\nafter {} epochs of {}\"",
          o.width, phi.name, o.dataset, o.sigma_b2, o.epochs, o.method))
      .command("set xlabel 'σ_w^2'")
      .command("set ylabel 'depth'")
      .command("set cblabel 'test accuracy'")
      .command("set cbrange [0:1]")
      .command(fmt::format("set yrange [0:{}]", 1.15 * o.depths.back()))
      .command("set palette rgb 21,22,23")
      .command("set key top right box opaque")
      .command("set style fill solid")
      .command("plot " + cell_file + " using 1:2:3 with points pt 5 ps 4 lc palette notitle, " +
               scale_file + " using 1:2 with lines lw 3 lc rgb 'black' title '6 ξ_c'");
  return figure.render(out);
}

}  // namespace octrain::report
