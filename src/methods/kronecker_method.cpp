#include "octrain/methods/kronecker_method.h"

#include <fmt/format.h>
#include <torch/serialize/archive.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "octrain/control/network.h"
#include "octrain/methods/gradient_method.h"
#include "octrain/methods/kl_clip.h"
#include "octrain/methods/layer_maps.h"
#include "octrain/methods/state_keys.h"
#include "octrain/methods/update_transforms.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {
constexpr int64_t kMaxInterval = 1'000'000'000;
}  // namespace

OptionSchema KroneckerMethod::schema_for(const std::string& name) {
  return OptionSchema(name)
      .real("lr", 0.01, "learning rate of the step θ ← θ − lr·M⁻¹∂J/∂θ", 0,
            OptionSchema::kUnbounded, true)
      .real("momentum", 0.0, "heavy-ball momentum on the preconditioned direction", 0, 1)
      .real("kl_clip", 1e-3, "KL clipping κ: scales the step to lr²·Σ⟨M⁻¹∇J, ∇J⟩ ≤ κ (0: off)", 0,
            OptionSchema::kUnbounded)
      .real("decay", 0.95, "EMA rate of the Kronecker factors (ekfac: and of the scaling)", 0, 1)
      .real("damping", 1e-3,
            name == "kfac" ? "damping λ, split π-corrected between the factors"
                           : "damping λ added to the eigenbasis scaling",
            0, OptionSchema::kUnbounded, true)
      .integer(
          "refresh_every", 10,
          name == "kfac" ? "steps between inverse refreshes" : "steps between eigenbasis refreshes",
          1, kMaxInterval)
      .integer("stats_every", 10, "steps between factor updates (the rows are built only then)", 1,
               kMaxInterval);
}

KroneckerOptions KroneckerMethod::curvature_options(const OptionValues& options, bool eigenbasis) {
  KroneckerOptions out;
  out.decay = options.real("decay");
  out.damping = options.real("damping");
  out.refresh_every = options.integer("refresh_every");
  out.stats_every = options.integer("stats_every");
  out.eigenbasis = eigenbasis;
  return out;
}

KroneckerMethod::KroneckerMethod(const std::string& name, OptionValues options,
                                 control::Network& network)
    : Method(std::move(options)),
      name_(name),
      lr_(options_.real("lr")),
      momentum_(options_.real("momentum")),
      kl_clip_(options_.real("kl_clip")) {
  const auto curvature = curvature_options(options_, name == "ekfac");
  for (size_t t = 0; t < network.size(); ++t) {
    auto& stage = network.stage(t);
    if (!stage.trainable()) continue;
    if (stage.control_set() != control::ControlSet::kReal)
      throw UsageError(fmt::format("{}: stage {} ({}) has {} controls; kfac/ekfac need real ones",
                                   name_, t, stage.describe(),
                                   control::to_string(stage.control_set())));
    const auto zero = torch::zeros_like(to_layer_matrix(stage, stage.controls()));
    std::unique_ptr<StageCurvature> block;
    if (has_layer_curvature(stage))  // dense, conv2d, a residual's inner layer
      block = std::make_unique<KroneckerCurvature>(zero.size(0), zero.size(1), curvature);
    else  // batch norm and any other real stage: the diagonal Fisher
      block = std::make_unique<DiagonalFisherCurvature>(zero.numel(), curvature);
    layers_.push_back({t, std::move(block), zero});
  }
}

StepStats KroneckerMethod::step(control::Network& network, const control::TerminalLoss& loss,
                                const torch::Tensor& x, const torch::Tensor& y) {
  control::Trajectory trajectory;
  StepStats stats = sweep_batch(network, loss, x, y, trajectory);
  reduce_hamiltonian_gradients(batch(), trajectory);
  torch::NoGradGuard no_grad;
  // p_{t+1} = −∂J/∂x_{t+1} of the batch-mean J, so the per-sample ∂φ_s/∂h is −B·p_{t+1}.
  const double batch = static_cast<double>(trajectory.batch_size());
  const double lr = lr_ * lr_scale_;
  const double momentum = momentum_;
  KlClip clipping(kl_clip_);  // Σ_t ⟨M_t⁻¹∇_t, ∇_t⟩ on the device, read once
  std::vector<torch::Tensor> directions;
  int64_t refreshes = 0;
  for (auto& layer : layers_) {
    auto& stage = network.stage(layer.t);
    const auto gradient = to_layer_matrix(stage, trajectory.hamiltonian_gradients[layer.t]).neg_();
    auto& curvature = *layer.curvature;
    LayerRows rows;
    if (curvature.uses_rows()) {
      const auto& x_t = trajectory.states[layer.t];
      const auto output_grad = trajectory.costates[layer.t + 1] * (-batch);
      rows = has_layer_curvature(stage)
                 ? layer_rows(stage, x_t, layer_coupling(stage, x_t).to_layer(output_grad))
                 : sample_gradient_rows(stage, x_t, output_grad);
    }
    rows.shard = &this->batch();
    curvature.observe(rows, gradient);
    directions.push_back(curvature.solve(gradient));
    clipping.add(directions.back(), gradient);
    refreshes += curvature.refreshes();
  }
  const double clip = clipping.factor(lr);
  for (size_t l = 0; l < layers_.size(); ++l) {
    auto& layer = layers_[l];
    auto& stage = network.stage(layer.t);
    const auto update = momentum_update(directions[l], clip, layer.velocity, momentum, lr);
    apply_update(stage, update.update);
    stats.defer(stage_key(layer.t, "update_norm"), update.step.norm().to(torch::kDouble) * lr);
  }
  if (clipping.enabled()) stats.extras["kl_clip_scale"] = clip;
  stats.extras["refreshes"] = static_cast<double>(refreshes);
  stats.resolve();
  return stats;
}

void KroneckerMethod::save(torch::serialize::OutputArchive& archive) const {
  for (const auto& layer : layers_) {
    const auto prefix = stage_key(layer.t, "");
    layer.curvature->save(archive, prefix);
    archive.write(prefix + "velocity", layer.velocity);
  }
}

void KroneckerMethod::load(torch::serialize::InputArchive& archive) {
  for (auto& layer : layers_) {
    // Checkpoints from before the one naming scheme used "t<t>_".
    const auto legacy = fmt::format("t{}_", layer.t);
    const auto velocity = stored_stage_key(archive, layer.t, "velocity", legacy + "velocity");
    const auto prefix = velocity == legacy + "velocity" ? legacy : stage_key(layer.t, "");
    layer.curvature->load(archive, prefix);
    load_state_tensor(archive, velocity, layer.velocity, name_);
  }
}

}  // namespace octrain::methods
