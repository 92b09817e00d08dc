#include <fmt/format.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "commands.h"
#include "octrain/analysis/mean_field.h"
#include "octrain/analysis/phase_diagram.h"
#include "octrain/analysis/signal_study.h"
#include "octrain/report/meanfield_report.h"
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
  std::vector<std::vector<double>> csv;
  for (const auto& p : points) {
    const auto& q = p.fixed_point;
    csv.push_back({p.sigma_w2, p.sigma_b2, q.q_star, q.chi1, q.c_star, q.xi_q, q.xi_c});
  }
  std::filesystem::create_directories(f.out);
  write_csv(f.out + "/phase_diagram.csv", "sigma_w2,sigma_b2,q_star,chi1,c_star,xi_q,xi_c", csv);
  const auto svg = report::phase_diagram_figure(f.activation, points, sw2, sb2, rule, f.out);
  fmt::print("{} × {} grid ({}-point Gauss–Hermite): wrote {}/phase_diagram.csv and {}\n",
             sw2.size(), sb2.size(), rule.size(), f.out, svg);
}

void empirical(const MeanFieldFlags& f, const GaussHermite& rule) {
  torch::manual_seed(uint64_t(f.seed));
  std::filesystem::create_directories(f.out);
  const auto study = analysis::signal_propagation_study(f.activation, f.width, f.depth, f.sigma_w2,
                                                        f.sigma_b2, rule);
  std::vector<std::vector<double>> rows;
  for (const auto& r : study.rows)
    rows.push_back({double(r.layer), r.q_a, r.q_a_theory, r.q_b, r.q_b_theory, r.c, r.c_theory});
  write_csv(f.out + "/signal_propagation.csv", "layer,q_a,q_a_theory,q_b,q_b_theory,c,c_theory",
            rows);
  const auto signal_svg = report::signal_propagation_figure(study, f.activation, f.width,
                                                            f.sigma_w2, f.sigma_b2, f.out);
  // Jacobian spectra through the hidden layers: Gaussian vs orthogonal weights, input at q*.
  const auto spectra =
      analysis::jacobian_spectra(f.activation, f.width, f.depth, f.sigma_w2, f.sigma_b2, rule);
  fmt::print(
      "| weights | mean λ measured | mean λ theory | var λ measured | var λ theory | s_max/s_min "
      "|\n|---|---:|---:|---:|---:|---:|\n");
  for (const auto& s : spectra)
    fmt::print("| {} | {} | {} | {} | {} | {} |\n", s.weights, real(s.mean), real(s.mean_theory),
               real(s.variance), real(s.variance_theory), real(s.condition));
  const auto spectrum_svg = report::jacobian_spectrum_figure(spectra, f.activation, f.depth,
                                                             f.sigma_w2, f.sigma_b2, f.out);
  fmt::print(
      "largest |q^l/q^l_theory − 1| over layers ≤ 20: {:.2f}%\nwrote {}/signal_propagation.csv, "
      "{}, {}\n",
      100 * study.worst_length_error, f.out, signal_svg, spectrum_svg);
}

void trainability(const MeanFieldFlags& f, const GaussHermite& rule) {
  report::TrainabilityOptions options;
  options.dataset = f.dataset;
  options.method = f.method;
  options.activation = f.activation;
  options.width = f.width;
  options.sigma_b2 = f.sigma_b2;
  options.epochs = f.epochs;
  options.seed = f.seed;
  options.depths = parse_list("--depths", f.depths);
  options.sigma_w2 = parse_list("--sw2-list", f.sw2_list);
  std::filesystem::create_directories(f.out);
  bool header = false;
  const auto cells = report::trainability_grid(options, f.out, [&](const auto& cell) {
    if (!header) fmt::print("| depth | σ_w² | test accuracy (%) |\n|---:|---:|---:|\n");
    header = true;
    fmt::print("| {} | {} | {} |\n", cell.depth, cell.sigma_w2,
               std::isnan(cell.test_accuracy) ? "diverged"
                                              : fmt::format("{:.1f}", 100 * cell.test_accuracy));
  });
  std::vector<std::vector<double>> csv;
  for (const auto& c : cells) csv.push_back({c.depth, c.sigma_w2, c.test_accuracy});
  write_csv(f.out + "/trainability.csv", "depth,sigma_w2,test_accuracy", csv);
  const auto svg = report::trainability_figure(options, cells, rule, f.out);
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
