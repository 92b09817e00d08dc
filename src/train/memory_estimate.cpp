#include "octrain/train/memory_estimate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "octrain/control/network.h"
#include "octrain/methods/registry.h"
#include "octrain/util/error.h"

namespace octrain::train {
namespace {

double numel(const control::Shape& shape) {
  double n = 1;
  for (auto d : shape) n *= double(d);
  return n;
}

double tensor_bytes(const torch::Tensor& t) {
  return double(t.numel()) * double(t.element_size());
}

// What a method keeps beyond the controls and their gradients, per control (the multipliers
// README.md's "Memory" lists) and per Kronecker block.
struct Shares {
  double per_control = 0;     // × the controls' bytes
  double kronecker = 0;       // × Σ_t (d_in² + d_out²) floats: factors, inverses or eigenbases
  double extra_rollouts = 0;  // × one batch's states
  bool full_value_hessian = false;
  bool augmented = false;
};

Shares gradient_shares(const std::string& optimiser, const OptionValues* o) {
  Shares s;
  auto real = [&](const char* key) { return o ? o->real(key) : 0.0; };
  auto flag = [&](const char* key) { return o ? o->flag(key) : false; };
  if (optimiser == "sgd") s.per_control = real("momentum") > 0 ? 1 : 0;
  if (optimiser == "adagrad") s.per_control = 1;
  if (optimiser == "rmsprop")
    s.per_control = 1 + (real("momentum") > 0 ? 1 : 0) + (flag("centered") ? 1 : 0);
  if (optimiser == "adam") s.per_control = 2 + (flag("amsgrad") ? 1 : 0);
  return s;
}

Shares method_shares(const std::string& method, const OptionValues& o) {
  if (method == "sgd" || method == "adagrad" || method == "rmsprop" || method == "adam")
    return gradient_shares(method, &o);
  Shares s;
  if (method == "kfac" || method == "ekfac") {
    s.kronecker = 2;
    s.per_control = (o.real("momentum") > 0 ? 1 : 0) + (method == "ekfac" ? 1 : 0);
  } else if (method == "ddpnopt" || method == "ddp") {
    const std::string curvature = method == "ddp" ? "exact" : o.text("curvature");
    if (curvature == "diag") s.per_control = 1;
    if (curvature == "adam") s.per_control = 2;
    if (curvature == "kfac" || curvature == "ekfac") {
      s.kronecker = 2;
      s.per_control = curvature == "ekfac" ? 1 : 0;
    }
    if (method == "ddpnopt" && o.real("momentum") > 0) s.per_control += 1;
    s.extra_rollouts = 3;  // the feedback rollout, V_x and the value model's factor
    s.full_value_hessian = method == "ddpnopt" && o.text("value_hessian") == "full";
    s.augmented = method == "ddp";
  } else if (method == "msa" || method == "emsa") {
    s.per_control = 2.0 * double(o.integer("history")) + 3;  // L-BFGS pairs, gradient, direction
    s.extra_rollouts = method == "emsa" ? 2 : 1;             // the stage objectives' evaluations
  } else if (method == "msa-discrete") {
    s.per_control = 3;  // the EMA M_t, and Adam's moments of the batch-norm stages at most
  } else if (method == "binaryconnect" || method == "bwn" || method == "twn") {
    // The latent real weights and their optimiser's state.
    s.per_control = 1 + gradient_shares(o.text("optimizer"), nullptr).per_control;
  }
  return s;
}

}  // namespace

std::string format_bytes(double bytes) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  size_t unit = 0;
  while (bytes >= 999.5 && unit + 1 < std::size(kUnits)) bytes /= 1000, ++unit;
  if (unit == 0) return fmt::format("{:.0f} B", bytes);
  return fmt::format("{:.{}f} {}", bytes, bytes < 9.995 ? 2 : bytes < 99.95 ? 1 : 0, kUnits[unit]);
}

std::string MemoryEstimate::breakdown() const {
  return fmt::format(
      "parameters {}, gradients {}, method state {}, activations {}, method extras {}",
      format_bytes(parameters), format_bytes(gradients), format_bytes(method_state),
      format_bytes(activations), format_bytes(extras));
}

std::string MemoryEstimate::describe() const {
  return fmt::format("about {} ({})", format_bytes(total()), breakdown());
}

MemoryEstimate estimate_memory(control::Network& network, const std::string& method,
                               const std::map<std::string, std::string>& method_options,
                               int64_t batch_size) {
  const Shares shares =
      method_shares(method, methods::find_method(method).schema.parse(method_options));

  MemoryEstimate e;
  double control_bytes = 0, kronecker_floats = 0;
  for (const auto& p : network.parameters()) control_bytes += tensor_bytes(p);
  e.parameters = control_bytes;
  for (const auto& b : network.buffers()) e.parameters += tensor_bytes(b);
  e.gradients = control_bytes;

  const double batch = double(std::max<int64_t>(batch_size, 1));
  constexpr double kFloat = 4;
  // States x_0 … x_T and co-states p_0 … p_T of the batch, and the local graph (input and
  // output) of every stage without a closed-form VJP.
  double states = numel(network.input_shape()), graphs = 0, value_hessian = 0, augmented = 0;
  for (size_t t = 0; t < network.size(); ++t) {
    auto& stage = network.stage(t);
    const double in = numel(network.stage_input_shape(t));
    const double out = t + 1 < network.size() ? numel(network.stage_input_shape(t + 1))
                                              : numel(network.output_shape());
    states += out;
    if (!stage.has_closed_form_vjp()) graphs += in + out;
    if (!stage.trainable()) continue;
    value_hessian += in * in;
    augmented += std::min(batch * in * batch * in, 2048.0 * 2048.0);
    const auto controls = stage.controls();
    if (controls.empty() || controls.front().dim() < 2) continue;
    const double d_out = double(controls.front().size(0));
    const double d_in = double(controls.front().numel()) / d_out + (controls.size() > 1 ? 1 : 0);
    kronecker_floats += d_in * d_in + d_out * d_out;
  }
  e.activations = kFloat * batch * (2 * states + graphs);
  e.method_state =
      shares.per_control * control_bytes + shares.kronecker * kFloat * kronecker_floats;
  e.extras = kFloat * batch * shares.extra_rollouts * states;
  if (shares.full_value_hessian) e.extras += kFloat * batch * value_hessian;
  if (shares.augmented) e.extras += kFloat * augmented;
  return e;
}

std::optional<double> available_memory() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    std::istringstream fields(line);
    std::string key, unit;
    double value = 0;
    if (!(fields >> key >> value)) continue;
    if (key != "MemAvailable:") continue;
    fields >> unit;
    return unit == "kB" ? value * 1024 : value;
  }
  return std::nullopt;
}

void check_memory(const MemoryEstimate& estimate, std::optional<double> available,
                  const std::string& what) {
  if (!available || estimate.total() <= *available) return;
  throw UsageError(fmt::format(
      "{} needs about {} of memory ({}) but {} are available (MemAvailable); use a smaller model "
      "or batch",
      what, format_bytes(estimate.total()), estimate.breakdown(), format_bytes(*available)));
}

}  // namespace octrain::train
