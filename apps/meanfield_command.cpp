#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "commands.h"
#include "octrain/analysis/phase_diagram.h"
#include "octrain/analysis/signal_propagation.h"
#include "octrain/control/model_builder.h"
#include "octrain/data/dataset.h"
#include "octrain/plot/gnuplot_figure.h"
#include "octrain/train/trainer.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/error.h"
#include "octrain/util/options.h"

namespace octrain::app {
namespace {

using analysis::GaussHermite;
using analysis::MeanField;

struct MeanFieldFlags {
  std::string activation = "tanh";
  double sigma_w2 = 1.5, sigma_b2 = 0.05;
  int points = 0;  // 0: 200 for single points, 100 for grids (even: no node on ReLU's kink)
  bool grid = false, critical_line = false, empirical = false, trainability = false;
  std::string sw2_range = "0.5:5:46", sb2_range = "0:2:41";
  int width = 1000, depth = 30;
  std::string depths = "10,20,40,70,100", sw2_list = "0.7,1,1.3,1.6,2,2.5,3,4";
  std::string dataset = "digits", method = "sgd:lr=0.01,momentum=0.9";
  int64_t epochs = 3, seed = 0;
  std::string out = "meanfield";
};

std::string real(double v) {
  return std::isfinite(v) ? fmt::format("{:.4g}", v) : std::isnan(v) ? "n/a" : "∞";
}

std::vector<double> parse_list(const std::string& flag, const std::string& text) {
  std::vector<double> values;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !std::isfinite(v) || v < 0)
      throw UsageError(fmt::format("{} '{}': expected comma-separated numbers ≥ 0", flag, text));
    values.push_back(v);
  }
  if (values.empty()) throw UsageError(fmt::format("{} is empty", flag));
  return values;
}

// "LO:HI:N" → N values from LO to HI; a grid axis needs LO < HI and N ≥ 2.
std::vector<double> parse_range(const std::string& flag, const std::string& text,
                                int min_points = 1) {
  double lo = 0, hi = 0;
  int n = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%lf:%lf:%d%c", &lo, &hi, &n, &tail) != 3 || n < min_points ||
      n > 1000 || lo < 0 || hi < lo || (min_points > 1 && hi == lo))
    throw UsageError(fmt::format("{} '{}': expected LO:HI:N with 0 ≤ LO {} HI and {} ≤ N ≤ 1000",
                                 flag, text, min_points > 1 ? "<" : "≤", min_points));
  return analysis::linspace(lo, hi, n);
}

void write_csv(const std::string& path, const std::string& header,
               const std::vector<std::vector<double>>& rows) {
  std::string text = header + "\n";
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) text += (i ? "," : "") + fmt::format("{:.8g}", row[i]);
    text += "\n";
  }
  write_text_atomically(path, text);
}

// χ₁ = 1 is the edge between the phases; quadrature puts it within rounding of 1, so a
// tolerance keeps the critical point from being called chaotic or ordered.
constexpr double kCriticalTolerance = 1e-6;

std::string phase_name(double chi1) {
  if (std::isnan(chi1)) return "length map diverges";
  if (std::abs(chi1 - 1) <= kCriticalTolerance)
    return fmt::format("critical: χ₁ = 1 within {}, the edge of chaos", kCriticalTolerance);
  return chi1 < 1 ? "ordered" : "chaotic";
}

void print_point(const MeanFieldFlags& f, const GaussHermite& rule) {
  const auto& phi = analysis::activation_functions(f.activation);
  const MeanField field(phi, f.sigma_w2, f.sigma_b2, rule);
  const auto p = field.fixed_point();
  fmt::print("{} at σ_w² = {}, σ_b² = {} ({}-point Gauss–Hermite)\n", phi.name,
             format_real(f.sigma_w2), format_real(f.sigma_b2), rule.size());
  fmt::print(
      "  q*   = {}\n  χ₁   = {}  ({})\n  c*   = {}\n  ξ_q  = {}\n  ξ_c  = {}  (trainable "
      "depth ≲ 6ξ_c = {})\n",
      real(p.q_star), real(p.chi1), phase_name(p.chi1), real(p.c_star), real(p.xi_q), real(p.xi_c),
      real(6 * p.xi_c));
  fmt::print("  critical σ_w² for σ_b² = {}: {}\n", format_real(f.sigma_b2),
             real(analysis::critical_sigma_w2(phi, f.sigma_b2, rule)));
  for (auto [weights, name] :
       {std::pair{analysis::WeightDistribution::kGaussian, "Gaussian"},
        std::pair{analysis::WeightDistribution::kOrthogonal, "orthogonal"}}) {
    const auto m = field.isometry(f.depth, weights);
    fmt::print("  JJᵀ spectrum over {} layers, {} weights: mean {}, variance {}\n", f.depth, name,
               real(m.mean), real(m.variance));
  }
}

void critical_line(const MeanFieldFlags& f, const GaussHermite& rule, bool given_range) {
  const auto& phi = analysis::activation_functions(f.activation);
  const auto sb2 = given_range ? parse_range("--sb2-range", f.sb2_range)
                               : std::vector<double>{0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2};
  std::vector<std::vector<double>> rows;
  fmt::print("| σ_b² | critical σ_w² ({}) |\n|---:|---:|\n", phi.name);
  for (double b : sb2) {
    const double w = analysis::critical_sigma_w2(phi, b, rule);
    fmt::print("| {} | {:.4f} |\n", format_real(b), w);
    rows.push_back({b, w});
  }
  std::filesystem::create_directories(f.out);
  write_csv(f.out + "/critical_line.csv", "sigma_b2,critical_sigma_w2", rows);
  fmt::print("wrote {}/critical_line.csv\n", f.out);
}

void grid(const MeanFieldFlags& f, const GaussHermite& rule) {
  const auto& phi = analysis::activation_functions(f.activation);
  const auto sw2 = parse_range("--sw2-range", f.sw2_range, 2);
  const auto sb2 = parse_range("--sb2-range", f.sb2_range, 2);
  const auto points = analysis::phase_diagram(phi, sw2, sb2, rule);
  std::vector<std::vector<double>> csv, image, line;
  constexpr double kXiCap = 60;  // ξ_c diverges on the transition; the colour scale stops here
  for (size_t k = 0; k < points.size(); ++k) {
    const auto& p = points[k];
    const auto& q = p.fixed_point;
    csv.push_back({p.sigma_w2, p.sigma_b2, q.q_star, q.chi1, q.c_star, q.xi_q, q.xi_c});
    image.push_back({p.sigma_w2, p.sigma_b2, std::isnan(q.xi_c) ? NAN : std::min(q.xi_c, kXiCap)});
    if ((k + 1) % sb2.size() == 0) image.emplace_back();  // one block per σ_w² column
  }
  for (double b : analysis::linspace(sb2.front(), sb2.back(), 81)) {
    const double w = analysis::critical_sigma_w2(phi, b, rule);
    if (w >= sw2.front() && w <= sw2.back()) line.push_back({w, b});
  }
  std::filesystem::create_directories(f.out);
  write_csv(f.out + "/phase_diagram.csv", "sigma_w2,sigma_b2,q_star,chi1,c_star,xi_q,xi_c", csv);
  plot::GnuplotFigure figure("phase_diagram", 800, 600);
  const auto image_file = figure.table("xi_c", {"sigma_w2", "sigma_b2", "xi_c"}, image);
  const auto line_file = figure.table("critical", {"sigma_w2", "sigma_b2"}, line);
  figure
      .command(
          fmt::format("set title '{} order-to-chaos phase diagram: depth scale ξ_c'", phi.name))
      .command("set xlabel 'σ_w^2'")
      .command("set ylabel 'σ_b^2'")
      .command(fmt::format("set cblabel 'ξ_c (capped at {})'", kXiCap))
      .command(fmt::format("set xrange [{}:{}]", sw2.front(), sw2.back()))
      .command(fmt::format("set yrange [{}:{}]", sb2.front(), sb2.back()))
      .command("set palette rgb 33,13,10")
      .command("set key top left box opaque")
      .command("set label 'ordered (χ_1 < 1)' at graph 0.05,0.8 front")
      .command("set label 'chaotic (χ_1 > 1)' at graph 0.75,0.3 front")
      .command("plot " + image_file + " using 1:2:3 with image notitle, " + line_file +
               " using 1:2 with lines lw 3 lc rgb 'black' title 'χ_1 = 1'");
  const auto svg = figure.render(f.out);
  fmt::print("{} × {} grid ({}-point Gauss–Hermite): wrote {}/phase_diagram.csv and {}\n",
             sw2.size(), sb2.size(), rule.size(), f.out, svg);
}

// input → `hidden` Dense+φ layers of `width` → output (hidden + 1 Dense stages).
std::string mlp_spec(int64_t input, int width, int hidden, int64_t output,
                     const std::string& tail) {
  std::string spec = fmt::format("mlp:{}", input);
  for (int l = 0; l < hidden; ++l) spec += fmt::format("-{}", width);
  return spec + fmt::format("-{}:{}", output, tail);
}

void empirical(const MeanFieldFlags& f, const GaussHermite& rule) {
  const auto& phi = analysis::activation_functions(f.activation);
  const MeanField field(phi, f.sigma_w2, f.sigma_b2, rule);
  const std::string init = fmt::format("sw2={},sb2={}", f.sigma_w2, f.sigma_b2);
  torch::manual_seed(uint64_t(f.seed));
  std::filesystem::create_directories(f.out);

  // Signal propagation: two inputs of lengths q⁰ = 2 and 0.5, correlation 0.5 (so both the
  // length and the correlation maps have something to do), 32 pairs averaged.
  auto network = control::build_network(
      mlp_spec(f.width, f.width, f.depth, f.width, f.activation + ":init=normal," + init),
      {f.width});
  const auto u = torch::randn({32, f.width}), v = torch::randn({32, f.width});
  const auto x_a = std::sqrt(2.0) * u, x_b = std::sqrt(0.5) * (0.5 * u + std::sqrt(0.75) * v);
  const auto measured = analysis::measure_signal(*network, x_a, x_b);
  const auto c0 = ((x_a * x_b).mean(1) / (x_a.pow(2).mean(1) * x_b.pow(2).mean(1)).sqrt()).mean();
  const auto theory = analysis::predict_signal(field, x_a.pow(2).mean().item<double>(),
                                               x_b.pow(2).mean().item<double>(), c0.item<double>(),
                                               int(measured.size()));
  std::vector<std::vector<double>> rows;
  double worst_q = 0;
  for (size_t l = 0; l < measured.size(); ++l) {
    const auto& m = measured[l];
    const auto& t = theory[l];
    rows.push_back({double(m.layer), m.q_a, t.q_a, m.q_b, t.q_b, m.c, t.c});
    if (int(l) < 20)
      worst_q = std::max({worst_q, std::abs(m.q_a / t.q_a - 1), std::abs(m.q_b / t.q_b - 1)});
  }
  write_csv(f.out + "/signal_propagation.csv", "layer,q_a,q_a_theory,q_b,q_b_theory,c,c_theory",
            rows);
  plot::GnuplotFigure signal("signal_propagation", 1000, 450);
  const auto file = signal.table(
      "layers", {"layer", "q_a", "q_a_theory", "q_b", "q_b_theory", "c", "c_theory"}, rows);
  signal
      .command(fmt::format(
          "set multiplot layout 1,2 title \"{}, width {}, init normal(σ_w^2={}, σ_b^2={})\\n"
          "measured (points) vs mean field (lines)\"",
          phi.name, f.width, f.sigma_w2, f.sigma_b2))
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
  const auto signal_svg = signal.render(f.out);

  // Jacobian spectra through the hidden layers: Gaussian vs orthogonal weights, input at q*.
  plot::GnuplotFigure spectrum("jacobian_spectrum", 800, 560);
  std::string plot_line = "plot ";
  fmt::print(
      "| weights | mean λ measured | mean λ theory | var λ measured | var λ theory | s_max/s_min "
      "|\n|---|---:|---:|---:|---:|---:|\n");
  const double q_star = field.fixed_point_length();
  for (auto [kind, weights] :
       {std::pair{"normal", analysis::WeightDistribution::kGaussian},
        std::pair{"orthogonal", analysis::WeightDistribution::kOrthogonal}}) {
    auto net = control::build_network(
        mlp_spec(f.width, f.width, f.depth, f.width, f.activation + ":init=" + kind + "," + init),
        {f.width});
    // Double precision: float32 would floor the small singular values at ~1e-7 · s_max.
    net->to(torch::kFloat64);
    const double q0 = std::max(0.0, (q_star - f.sigma_b2) / f.sigma_w2);
    const auto J = analysis::input_output_jacobian(
        *net, std::sqrt(q0) * torch::randn({f.width}, torch::kFloat64), size_t(2 * f.depth));
    const auto s = std::get<0>(torch::sort(torch::linalg::svdvals(J, /*driver=*/{})));
    const auto lambda = s.pow(2);
    const auto moments = field.isometry(f.depth, weights);
    fmt::print("| {} | {} | {} | {} | {} | {} |\n", kind, real(lambda.mean().item<double>()),
               real(moments.mean), real(lambda.var(false).item<double>()), real(moments.variance),
               real((s.max() / s.min()).item<double>()));
    std::vector<std::vector<double>> quantiles;
    for (int64_t i = 0; i < s.size(0); ++i)
      quantiles.push_back({(double(i) + 0.5) / double(s.size(0)), s[i].item<double>()});
    plot_line += (plot_line.size() > 5 ? ", " : "") +
                 spectrum.table(kind, {"quantile", "singular_value"}, quantiles) +
                 fmt::format(" using 1:2 with lines lw 2 title '{} weights'", kind);
  }
  spectrum
      .command(fmt::format(
          "set title \"input–output Jacobian singular values\\n{} {} layers, σ_w^2={}, σ_b^2={}\"",
          f.depth, phi.name, f.sigma_w2, f.sigma_b2))
      .command("set xlabel 'quantile'")
      .command("set ylabel 'singular value'")
      .command("set logscale y")
      .command("set key top left")
      .command(plot_line);
  const auto spectrum_svg = spectrum.render(f.out);
  fmt::print(
      "largest |q^l/q^l_theory − 1| over layers ≤ 20: {:.2f}%\nwrote {}/signal_propagation.csv, "
      "{}, {}\n",
      100 * worst_q, f.out, signal_svg, spectrum_svg);
}

void trainability(const MeanFieldFlags& f, const GaussHermite& rule) {
  const auto& phi = analysis::activation_functions(f.activation);
  const auto depths = parse_list("--depths", f.depths);
  const auto sw2 = parse_list("--sw2-list", f.sw2_list);
  std::filesystem::create_directories(f.out);
  train::RunConfig base;
  base.dataset = f.dataset;
  base.set("method", f.method);
  base.epochs = f.epochs;
  base.seed = uint64_t(f.seed);
  base.threads = 1;
  base.batch_size = 64;
  const auto data = data::load_dataset(base.dataset, train::load_options_for(base));
  if (data.input_shape.size() != 1 || data.task != data::Task::kClassification)
    throw UsageError(f.dataset + ": --trainability needs a classification dataset of vectors");
  std::vector<std::vector<double>> csv, cells, scale;
  fmt::print("| depth | σ_w² | test accuracy (%) |\n|---:|---:|---:|\n");
  for (double w : sw2) {
    for (double d : depths) {
      train::RunConfig config = base;
      config.model =
          mlp_spec(data.input_shape[0], f.width, int(d), data.num_classes,
                   fmt::format("{}:init=normal,sw2={},sb2={}", f.activation, w, f.sigma_b2));
      config.out = fmt::format("{}/runs/depth{}-sw2_{}", f.out, d, w);
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
      fmt::print("| {} | {} | {} |\n", d, w,
                 std::isnan(accuracy) ? "diverged" : fmt::format("{:.1f}", 100 * accuracy));
      csv.push_back({d, w, accuracy});
      cells.push_back({w, d, accuracy});
    }
    cells.emplace_back();
  }
  for (double w : analysis::linspace(sw2.front(), sw2.back(), 121))
    scale.push_back({w, 6 * MeanField(phi, w, f.sigma_b2, rule).fixed_point().xi_c});
  write_csv(f.out + "/trainability.csv", "depth,sigma_w2,test_accuracy", csv);
  plot::GnuplotFigure figure("trainability", 800, 600);
  const auto cell_file = figure.table("accuracy", {"sigma_w2", "depth", "test_accuracy"}, cells);
  const auto scale_file = figure.table("six_xi_c", {"sigma_w2", "six_xi_c"}, scale);
  figure
      .command(fmt::format(
          "set title \"{}-wide {} MLPs on {}, σ_b^2={}: test accuracy\\nafter {} epochs of {}\"",
          f.width, phi.name, f.dataset, f.sigma_b2, f.epochs, f.method))
      .command("set xlabel 'σ_w^2'")
      .command("set ylabel 'depth'")
      .command("set cblabel 'test accuracy'")
      .command("set cbrange [0:1]")
      .command(fmt::format("set yrange [0:{}]", 1.15 * depths.back()))
      .command("set palette rgb 21,22,23")
      .command("set key top right box opaque")
      .command("set style fill solid")
      .command("plot " + cell_file + " using 1:2:3 with points pt 5 ps 4 lc palette notitle, " +
               scale_file + " using 1:2 with lines lw 3 lc rgb 'black' title '6 ξ_c'");
  const auto svg = figure.render(f.out);
  fmt::print("wrote {}/trainability.csv and {}\n", f.out, svg);
}

}  // namespace

void add_meanfield_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "meanfield", "Mean-field signal propagation: fixed points, χ₁, depth scales, phase diagram");
  command->footer(
      "Examples:\n"
      "  octrain meanfield --activation tanh --sw2 1.5 --sb2 0.05\n"
      "  octrain meanfield --grid -o out/meanfield          (phase diagram CSV + SVG)\n"
      "  octrain meanfield --critical-line\n"
      "  octrain meanfield --empirical --sw2 1.5 --sb2 0.05 --width 1000 --depth 30\n"
      "  octrain meanfield --trainability -d digits --depths 10,40,100 --sw2-list 1,1.5,2,3");
  auto f = std::make_shared<MeanFieldFlags>();
  command
      ->add_option("--activation,-a", f->activation,
                   "tanh | relu | sigmoid | softplus | erf | linear")
      ->type_name("NAME");
  command->add_option("--sw2", f->sigma_w2, "σ_w² (default 1.5)");
  command->add_option("--sb2", f->sigma_b2, "σ_b² (default 0.05)");
  command->add_option("--points", f->points,
                      "Gauss–Hermite points (default 200; 100 for --grid; keep it even for ReLU)");
  command->add_flag("--grid", f->grid, "phase diagram over --sw2-range × --sb2-range");
  command->add_flag("--critical-line", f->critical_line, "tabulate the critical σ_w² against σ_b²");
  command->add_flag("--empirical", f->empirical,
                    "measure q^l, c^l and Jacobian spectra of real networks against the theory");
  command->add_flag("--trainability", f->trainability,
                    "train a depth × σ_w² grid briefly; accuracy heatmap with 6ξ_c");
  auto* sb2_range = command->add_option("--sb2-range", f->sb2_range, "LO:HI:N (default 0:2:41)")
                        ->type_name("RANGE");
  command->add_option("--sw2-range", f->sw2_range, "LO:HI:N (default 0.5:5:46)")
      ->type_name("RANGE");
  command->add_option("--width", f->width, "network width for --empirical / --trainability")
      ->check(CLI::Range(1, 100000));
  command
      ->add_option("--depth", f->depth,
                   "layers for --empirical and the isometry moments (default 30)")
      ->check(CLI::Range(1, 10000));
  command->add_option("--depths", f->depths, "depths for --trainability (default 10,20,40,70,100)")
      ->type_name("INT,...");
  command->add_option("--sw2-list", f->sw2_list, "σ_w² values for --trainability")
      ->type_name("REAL,...");
  command->add_option("--dataset,-d", f->dataset, "dataset for --trainability (default digits)")
      ->type_name("NAME");
  command
      ->add_option("--method", f->method,
                   "method for --trainability (default sgd:lr=0.01,momentum=0.9)")
      ->type_name("SPEC");
  command->add_option("--epochs,-e", f->epochs, "epochs per --trainability run (default 3)")
      ->check(CLI::Range(1, 1000));
  command->add_option("--seed,-s", f->seed, "seed for networks and runs")
      ->check(CLI::Range(0, 1 << 30));
  command->add_option("--out,-o", f->out, "output folder (default meanfield)")->type_name("DIR");
  command->callback([f, sb2_range] {
    const int modes =
        int(f->grid) + int(f->critical_line) + int(f->empirical) + int(f->trainability);
    if (modes > 1)
      throw UsageError(
          "meanfield: choose one of --grid, --critical-line, --empirical, --trainability");
    analysis::activation_functions(f->activation);  // validates the name first
    if (f->grid) {
      grid(*f, GaussHermite(f->points > 0 ? f->points : 100));
      return;
    }
    const GaussHermite rule(f->points > 0 ? f->points : 200);
    if (f->critical_line)
      critical_line(*f, rule, sb2_range->count() > 0);
    else if (f->empirical)
      empirical(*f, rule);
    else if (f->trainability)
      trainability(*f, rule);
    else
      print_point(*f, rule);
  });
}

}  // namespace octrain::app
