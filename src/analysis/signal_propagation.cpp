// Empirical signal propagation in an initialised network against the mean-field maps of
// Poole et al. (2016) / Schoenholz et al. (2017) ([REVIEW] §4; docs/methods/meanfield.md).
#include "octrain/analysis/signal_propagation.h"

#include <fmt/format.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/types.h>

#include <cmath>

#include "octrain/util/error.h"

namespace octrain::analysis {

std::vector<LayerSignal> measure_signal(control::Network& network, const torch::Tensor& x_a,
                                        const torch::Tensor& x_b) {
  if (x_a.sizes() != x_b.sizes() || x_a.dim() != 2)
    throw UsageError("measure_signal: x_a and x_b must be batch × features of the same shape");
  const int64_t batch = x_a.size(0);
  const auto trajectory = network.rollout(torch::cat({x_a, x_b}), false);
  std::vector<LayerSignal> signals;
  for (size_t t = 0; t < network.size(); ++t) {
    if (network.stage(t).kind() != control::StageKind::kDense) continue;
    const auto h = trajectory.states[t + 1].to(torch::kFloat64);
    const auto h_a = h.slice(0, 0, batch), h_b = h.slice(0, batch);
    const auto q_a = h_a.pow(2).mean(1), q_b = h_b.pow(2).mean(1);
    const auto c = (h_a * h_b).mean(1) / (q_a * q_b).sqrt();
    signals.push_back({int(signals.size()) + 1, q_a.mean().item<double>(),
                       q_b.mean().item<double>(), c.mean().item<double>()});
  }
  return signals;
}

std::vector<LayerSignal> predict_signal(const MeanField& field, double q0_a, double q0_b, double c0,
                                        int layers) {
  std::vector<LayerSignal> signals;
  const double w = field.sigma_w2(), b = field.sigma_b2();
  // Layer 1 is linear in the input's moments.
  double q_a = w * q0_a + b, q_b = w * q0_b + b;
  double c = (w * c0 * std::sqrt(q0_a * q0_b) + b) / std::sqrt(q_a * q_b);
  for (int l = 1; l <= layers; ++l) {
    signals.push_back({l, q_a, q_b, c});
    const double q_ab = field.covariance_map(q_a, q_b, c);
    q_a = field.length_map(q_a);
    q_b = field.length_map(q_b);
    c = q_ab / std::sqrt(q_a * q_b);
  }
  return signals;
}

torch::Tensor input_output_jacobian(control::Network& network, const torch::Tensor& x0,
                                    size_t stages) {
  if (x0.dim() != 1 || stages > network.size())
    throw UsageError(fmt::format("input_output_jacobian: need a vector input and at most {} stages",
                                 network.size()));
  const auto& shape =
      stages == network.size() ? network.output_shape() : network.stage_input_shape(stages);
  int64_t m = 1;
  for (int64_t d : shape) m *= d;
  // Row k of J is the co-state at x_0 for the output co-state e_k: a batch of m copies does all
  // rows in one backward pass.
  auto x = x0.unsqueeze(0).expand({m, x0.size(0)}).clone().requires_grad_(true);
  torch::Tensor y = x;
  for (size_t t = 0; t < stages; ++t) y = network.stage(t).forward(y);
  const auto eye = torch::eye(m, y.options()).view(y.sizes());
  return torch::autograd::grad({y}, {x}, {eye})[0].detach();
}

}  // namespace octrain::analysis
