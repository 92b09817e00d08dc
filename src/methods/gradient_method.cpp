#include "octrain/methods/gradient_method.h"

#include <fmt/format.h>
#include <torch/serialize/archive.h>
#include <torch/utils.h>

#include <limits>

#include "octrain/control/network.h"
#include "octrain/control/trajectory.h"
#include "octrain/methods/fused_optimizers.h"
#include "octrain/methods/gradient_norm_penalty.h"
#include "octrain/util/error.h"

namespace octrain::methods {

OptionSchema GradientMethod::schema_for(const std::string& name) {
  OptionSchema schema(name);
  if (name == "sgd") {
    return schema.real("lr", 0.01, "learning rate", 0, OptionSchema::kUnbounded, true)
        .real("momentum", 0.0, "heavy-ball momentum", 0, 1)
        .real("dampening", 0.0, "momentum dampening", 0, 1)
        .flag("nesterov", false, "Nesterov momentum (needs momentum > 0, dampening 0)")
        .real("vgr", 0.0,
              "weight of Pascanu et al.'s vanishing-gradient regulariser Ω (each layer keeps "
              "the back-propagated error's norm; docs/methods/baselines.md); 0: off",
              0, OptionSchema::kUnbounded);
  }
  if (name == "adagrad") {
    return schema.real("lr", 0.01, "learning rate", 0, OptionSchema::kUnbounded, true)
        .real("lr_decay", 0.0, "learning-rate decay", 0, OptionSchema::kUnbounded)
        .real("initial_accumulator", 0.0, "initial sum of squares", 0, OptionSchema::kUnbounded)
        .real("eps", 1e-10, "denominator guard", 0, 1, true);
  }
  if (name == "rmsprop") {
    return schema.real("lr", 0.01, "learning rate", 0, OptionSchema::kUnbounded, true)
        .real("alpha", 0.99, "EMA rate of squared gradients", 0, 1)
        .real("eps", 1e-8, "denominator guard", 0, 1, true)
        .real("momentum", 0.0, "momentum", 0, 1)
        .flag("centered", false, "subtract the mean gradient");
  }
  if (name == "adam") {
    return schema.real("lr", 1e-3, "learning rate", 0, OptionSchema::kUnbounded, true)
        .real("beta1", 0.9, "first-moment EMA rate", 0, 1)
        .real("beta2", 0.999, "second-moment EMA rate", 0, 1)
        .real("eps", 1e-8, "denominator guard", 0, 1, true)
        .flag("amsgrad", false, "AMSGrad variant");
  }
  throw std::logic_error("GradientMethod: no schema for " + name);
}

std::unique_ptr<torch::optim::Optimizer> make_torch_optimizer(const std::string& name,
                                                              const OptionValues& o,
                                                              std::vector<torch::Tensor> params) {
  if (name == "sgd") {
    if (o.flag("nesterov") && (o.real("momentum") <= 0 || o.real("dampening") != 0))
      throw UsageError("sgd: option 'nesterov' = true needs momentum > 0 and dampening = 0");
    return std::make_unique<FusedSgd>(params, torch::optim::SGDOptions(o.real("lr"))
                                                  .momentum(o.real("momentum"))
                                                  .dampening(o.real("dampening"))
                                                  .nesterov(o.flag("nesterov")));
  }
  if (name == "adagrad") {
    return std::make_unique<FusedAdagrad>(
        params, torch::optim::AdagradOptions(o.real("lr"))
                    .lr_decay(o.real("lr_decay"))
                    .initial_accumulator_value(o.real("initial_accumulator"))
                    .eps(o.real("eps")));
  }
  if (name == "rmsprop") {
    return std::make_unique<FusedRmsprop>(params, torch::optim::RMSpropOptions(o.real("lr"))
                                                      .alpha(o.real("alpha"))
                                                      .eps(o.real("eps"))
                                                      .momentum(o.real("momentum"))
                                                      .centered(o.flag("centered")));
  }
  if (name == "adam") {
    return std::make_unique<FusedAdam>(params, torch::optim::AdamOptions(o.real("lr"))
                                                   .betas({o.real("beta1"), o.real("beta2")})
                                                   .eps(o.real("eps"))
                                                   .amsgrad(o.flag("amsgrad")));
  }
  throw std::logic_error("make_torch_optimizer: unknown optimiser " + name);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

void save_optimizer(torch::serialize::OutputArchive& archive, const std::string& key,
                    const torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive state;
  optimizer.save(state);
  archive.write(key, state);
}

void load_optimizer(torch::serialize::InputArchive& archive, const std::string& key,
                    torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive state;
  archive.read(key, state);
  optimizer.load(state);
}

void load_state_tensor(torch::serialize::InputArchive& archive, const std::string& key,
                       torch::Tensor& into, const std::string& owner) {
  torch::NoGradGuard no_grad;
  torch::Tensor saved;
  archive.read(key, saved);
  if (!saved.sizes().equals(into.sizes()))
    throw DataError(fmt::format("{} state: '{}' has shape [{}], expected [{}]", owner, key,
                                fmt::join(saved.sizes(), "×"), fmt::join(into.sizes(), "×")));
  into.copy_(saved);
}

GradientMethod::GradientMethod(const std::string& name, OptionValues options,
                               control::Network& network)
    : Method(std::move(options)),
      name_(name),
      controls_(network.controls()),
      optimizer_(make_torch_optimizer(name, options_, controls_)),
      gradient_step_(dynamic_cast<GradientStep*>(optimizer_.get())),
      vgr_weight_(name == "sgd" ? options_.real("vgr") : 0.0) {}

StepStats GradientMethod::step(control::Network& network, const control::TerminalLoss& loss,
                               const torch::Tensor& x, const torch::Tensor& y) {
  control::Trajectory trajectory;
  StepStats stats = sweep_batch(network, loss, x, y, trajectory);
  reduce_hamiltonian_gradients(batch(), trajectory);
  std::vector<torch::Tensor> gradients;
  gradients.reserve(controls_.size());
  for (auto& stage_gradients : trajectory.hamiltonian_gradients)
    for (auto& dH : stage_gradients) gradients.push_back(std::move(dH));
  if (vgr_weight_ > 0) add_gradient_norm_penalty(network, trajectory, gradients, stats);
  gradient_step_->step_with(gradients, -1.0);  // ∂J/∂θ = −∂H/∂θ, negated inside the pass
  return stats;
}

void GradientMethod::add_gradient_norm_penalty(control::Network& network,
                                               const control::Trajectory& trajectory,
                                               std::vector<torch::Tensor>& hamiltonian_gradients,
                                               StepStats& stats) {
  auto penalty = gradient_norm_penalty(network, trajectory);
  batch().mean(penalty.gradients);
  // The step follows −∂H/∂θ + λ∂Ω/∂θ = −(∂H/∂θ − λ∂Ω/∂θ).
  for (size_t i = 0; i < hamiltonian_gradients.size(); ++i)
    hamiltonian_gradients[i].sub_(penalty.gradients[i], vgr_weight_);
  stats.extras["vgr_penalty"] = batch().mean(penalty.value);
}

void GradientMethod::set_learning_rate_scale(double scale) {
  set_learning_rate(*optimizer_, options_.real("lr") * scale);
}

void GradientMethod::save(torch::serialize::OutputArchive& archive) const {
  optimizer_->save(archive);
}

void GradientMethod::load(torch::serialize::InputArchive& archive) {
  optimizer_->load(archive);
}

}  // namespace octrain::methods
