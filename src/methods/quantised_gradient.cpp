// BinaryConnect (Courbariaux et al., NeurIPS 2015), BWN (Rastegari et al., ECCV 2016) and TWN
// (Li et al., 2016): straight-through training of quantised weights, as baselines of [DMSA] §3.
#include "octrain/methods/quantised_gradient.h"

#include <fmt/format.h>
#include <torch/serialize/archive.h>
#include <torch/utils.h>

#include <cmath>

#include "octrain/control/network.h"
#include "octrain/methods/gradient_method.h"
#include "octrain/methods/state_keys.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {

constexpr double kTwnThresholdFactor = 0.7;  // Δ = 0.7·mean|w| (TWN's approximation)

torch::Tensor& output_scale(control::Stage& stage) {
  if (auto* scale = stage.discrete_scale()) return *scale;
  throw std::logic_error("QuantisedGradient: discrete stage without an output scale");
}

// Per output unit (row of W, or output channel), mean of |w| over the entries where `mask`.
torch::Tensor row_mean(const torch::Tensor& values, const torch::Tensor& mask) {
  const auto flat = values.flatten(1), m = mask.flatten(1).to(values.scalar_type());
  return (flat * m).sum(1) / m.sum(1).clamp_min(1);
}

}  // namespace

OptionSchema QuantisedGradient::schema_for(const std::string& name) {
  return OptionSchema(name)
      .choice("optimizer", "adam", {"adam", "sgd", "rmsprop", "adagrad"},
              "optimiser of the latent weights and the real stages (its other options default)")
      .real("lr", 1e-3, "learning rate", 0, 1e3, true);
}

QuantisedGradient::QuantisedGradient(const std::string& name, OptionValues options,
                                     control::Network& network)
    : Method(std::move(options)),
      name_(name),
      kind_(name == "twn"   ? Kind::kTwn
            : name == "bwn" ? Kind::kBwn
                            : Kind::kBinaryConnect) {
  const auto wanted =
      kind_ == Kind::kTwn ? control::ControlSet::kTernary : control::ControlSet::kBinary;
  const auto stages = stages_by_control_set(network);
  real_stages_ = stages.real;
  std::vector<torch::Tensor> params = stages.real_controls;
  torch::NoGradGuard no_grad;
  for (size_t t : stages.discrete) {
    auto& stage = network.stage(t);
    if (stage.control_set() != wanted)
      throw UsageError(fmt::format("{} trains {} stages; stage {} ({}) is {}", name,
                                   control::to_string(wanted), t, stage.describe(),
                                   control::to_string(stage.control_set())));
    const torch::Tensor theta = stage.controls().front();
    // Latent weights start like a real layer: U(±1/√fan_in) (libtorch's default).
    const double bound = 1.0 / std::sqrt(double(theta.numel() / theta.size(0)));
    auto w = torch::empty_like(theta).uniform_(-bound, bound).requires_grad_(true);
    latent_.push_back({t, w});
    params.push_back(w);
    quantise_into(network, latent_.back());
  }
  if (latent_.empty())
    throw UsageError(fmt::format("{}: the model has no {} stages (use e.g. {}:784-256x2-10)", name,
                                 control::to_string(wanted),
                                 kind_ == Kind::kTwn ? "tmlp" : "bmlp"));
  const std::string optimiser = options_.text("optimizer");
  auto values =
      GradientMethod::schema_for(optimiser).parse({{"lr", format_real(options_.real("lr"))}});
  optimizer_ = make_torch_optimizer(optimiser, values, params);
}

int64_t QuantisedGradient::quantise_into(control::Network& network, const LatentStage& d) const {
  torch::NoGradGuard no_grad;
  auto& stage = network.stage(d.t);
  torch::Tensor theta = stage.controls().front();
  const auto& w = d.w;
  const auto one = torch::ones({}, w.options());
  const auto sign = torch::where(w.ge(0), one, -one);
  torch::Tensor quantised;
  const auto abs_w = w.abs();
  if (kind_ == Kind::kTwn) {
    const auto delta = kTwnThresholdFactor * abs_w.flatten(1).mean(1);
    const auto view = [&](const torch::Tensor& row) {
      std::vector<int64_t> shape(size_t(w.dim()), 1);
      shape[0] = -1;
      return row.view(shape);
    };
    const auto keep = abs_w.gt(view(delta));
    quantised = sign * keep.to(w.scalar_type());
    output_scale(stage).copy_(row_mean(abs_w, keep));
  } else {
    quantised = sign;
    if (kind_ == Kind::kBwn) output_scale(stage).copy_(abs_w.flatten(1).mean(1));
  }
  const int64_t changed = quantised.ne(theta).sum().item<int64_t>();
  theta.copy_(quantised);
  return changed;
}

StepStats QuantisedGradient::step(control::Network& network, const control::TerminalLoss& loss,
                                  const torch::Tensor& x, const torch::Tensor& y) {
  control::Trajectory trajectory;
  StepStats stats = sweep_batch(network, loss, x, y, trajectory);
  reduce_hamiltonian_gradients(batch(), trajectory);
  torch::NoGradGuard no_grad;
  store_loss_gradients(network, trajectory, real_stages_);
  for (auto& d : latent_) d.w.mutable_grad() = trajectory.hamiltonian_gradients[d.t].front().neg_();
  optimizer_->step();
  double flips = 0;
  for (auto& d : latent_) {
    if (kind_ == Kind::kBinaryConnect) d.w.clamp_(-1, 1);
    const double stage_flips = double(quantise_into(network, d));
    stats.extras[stage_key(d.t, "flips")] = stage_flips;
    flips += stage_flips;
  }
  stats.extras["flips"] = flips;
  return stats;
}

const torch::Tensor& QuantisedGradient::latent_weights(size_t t) const {
  for (const auto& d : latent_)
    if (d.t == t) return d.w;
  throw std::out_of_range("QuantisedGradient: stage " + std::to_string(t) +
                          " has no latent weights");
}

void QuantisedGradient::set_learning_rate_scale(double scale) {
  set_learning_rate(*optimizer_, options_.real("lr") * scale);
}

void QuantisedGradient::save(torch::serialize::OutputArchive& archive) const {
  for (const auto& d : latent_) archive.write(stage_key(d.t, "latent_weight"), d.w);
  save_optimizer(archive, "optimizer", *optimizer_);
}

void QuantisedGradient::load(torch::serialize::InputArchive& archive) {
  for (auto& d : latent_)
    load_state_tensor(archive,
                      stored_stage_key(archive, d.t, "latent_weight", fmt::format("w_t{}", d.t)),
                      d.w, name_);
  load_optimizer(archive, "optimizer", *optimizer_);
}

}  // namespace octrain::methods
