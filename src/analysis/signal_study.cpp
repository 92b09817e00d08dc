#include "octrain/analysis/signal_study.h"

#include <fmt/format.h>
#include <torch/linalg.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>

#include "octrain/analysis/activation_functions.h"
#include "octrain/analysis/mean_field.h"
#include "octrain/analysis/signal_propagation.h"
#include "octrain/control/model_builder.h"

namespace octrain::analysis {

std::string mean_field_mlp_spec(int64_t input, int width, int hidden, int64_t output,
                                const std::string& tail) {
  std::string spec = fmt::format("mlp:{}", input);
  for (int l = 0; l < hidden; ++l) spec += fmt::format("-{}", width);
  return spec + fmt::format("-{}:{}", output, tail);
}

SignalStudy signal_propagation_study(const std::string& activation, int width, int depth,
                                     double sigma_w2, double sigma_b2, const GaussHermite& rule) {
  const MeanField field(activation_functions(activation), sigma_w2, sigma_b2, rule);
  const std::string init = fmt::format("sw2={},sb2={}", sigma_w2, sigma_b2);
  auto network = control::build_network(
      mean_field_mlp_spec(width, width, depth, width, activation + ":init=normal," + init),
      {width});
  // Both the length and the correlation maps have something to do.
  const auto u = torch::randn({32, width}), v = torch::randn({32, width});
  const auto x_a = std::sqrt(2.0) * u, x_b = std::sqrt(0.5) * (0.5 * u + std::sqrt(0.75) * v);
  const auto measured = measure_signal(*network, x_a, x_b);
  const auto c0 = ((x_a * x_b).mean(1) / (x_a.pow(2).mean(1) * x_b.pow(2).mean(1)).sqrt()).mean();
  const auto theory =
      predict_signal(field, x_a.pow(2).mean().item<double>(), x_b.pow(2).mean().item<double>(),
                     c0.item<double>(), int(measured.size()));
  SignalStudy study;
  for (size_t l = 0; l < measured.size(); ++l) {
    const auto& m = measured[l];
    const auto& t = theory[l];
    study.rows.push_back({m.layer, m.q_a, t.q_a, m.q_b, t.q_b, m.c, t.c});
    if (l < 20)
      study.worst_length_error = std::max(
          {study.worst_length_error, std::abs(m.q_a / t.q_a - 1), std::abs(m.q_b / t.q_b - 1)});
  }
  return study;
}

std::vector<JacobianSpectrum> jacobian_spectra(const std::string& activation, int width, int depth,
                                               double sigma_w2, double sigma_b2,
                                               const GaussHermite& rule) {
  const MeanField field(activation_functions(activation), sigma_w2, sigma_b2, rule);
  const std::string init = fmt::format("sw2={},sb2={}", sigma_w2, sigma_b2);
  const double q_star = field.fixed_point_length();
  std::vector<JacobianSpectrum> spectra;
  for (auto [kind, weights] : {std::pair{"normal", WeightDistribution::kGaussian},
                               std::pair{"orthogonal", WeightDistribution::kOrthogonal}}) {
    auto net = control::build_network(
        mean_field_mlp_spec(width, width, depth, width, activation + ":init=" + kind + "," + init),
        {width});
    net->to(torch::kFloat64);
    const double q0 = std::max(0.0, (q_star - sigma_b2) / sigma_w2);
    const auto J = input_output_jacobian(
        *net, std::sqrt(q0) * torch::randn({width}, torch::kFloat64), size_t(2 * depth));
    const auto s = std::get<0>(torch::sort(torch::linalg::svdvals(J, /*driver=*/{})));
    const auto lambda = s.pow(2);
    const auto moments = field.isometry(depth, weights);
    JacobianSpectrum spectrum;
    spectrum.weights = kind;
    spectrum.singular_values.assign(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
    spectrum.mean = lambda.mean().item<double>();
    spectrum.mean_theory = moments.mean;
    spectrum.variance = lambda.var(false).item<double>();
    spectrum.variance_theory = moments.variance;
    spectrum.condition = (s.max() / s.min()).item<double>();
    spectra.push_back(std::move(spectrum));
  }
  return spectra;
}

}  // namespace octrain::analysis
