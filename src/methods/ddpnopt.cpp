#include "octrain/methods/ddpnopt.h"

#include <fmt/format.h>
#include <torch/serialize/archive.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "octrain/control/network.h"
#include "octrain/methods/elementwise_curvature.h"
#include "octrain/methods/exact_curvature.h"
#include "octrain/methods/kl_clip.h"
#include "octrain/methods/kronecker_curvature.h"
#include "octrain/methods/kronecker_method.h"
#include "octrain/methods/layer_maps.h"
#include "octrain/methods/stage_curvature.h"
#include "octrain/methods/state_keys.h"
#include "octrain/methods/update_transforms.h"
#include "octrain/methods/work_count.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {

Ddpnopt::Curvature parse_curvature(const std::string& name) {
  using C = Ddpnopt::Curvature;
  if (name == "identity") return C::kIdentity;
  if (name == "diag") return C::kDiag;
  if (name == "adam") return C::kAdam;
  if (name == "kfac") return C::kKfac;
  if (name == "ekfac") return C::kEkfac;
  if (name == "exact") return C::kExact;
  throw std::logic_error("ddpnopt: no curvature " + name);
}

std::unique_ptr<StageCurvature> make_curvature(Ddpnopt::Curvature kind, const OptionValues& o,
                                               control::Stage& stage) {
  using C = Ddpnopt::Curvature;
  switch (kind) {
    case C::kIdentity:
      return std::make_unique<IdentityCurvature>();
    case C::kDiag:
      return std::make_unique<DiagonalCurvature>(o.real("alpha"), o.real("eps"), false);
    case C::kAdam:
      return std::make_unique<DiagonalCurvature>(o.real("beta2"), o.real("eps"), true);
    case C::kExact:
      return std::make_unique<ExactCurvature>(o.real("damping"));
    case C::kKfac:
    case C::kEkfac: {
      const auto controls = stage.controls();
      const int64_t out = controls[0].size(0);
      const int64_t fan = controls[0].numel() / out + (controls.size() == 2 ? 1 : 0);
      return std::make_unique<KroneckerCurvature>(
          out, fan, KroneckerMethod::curvature_options(o, kind == C::kEkfac));
    }
  }
  throw std::logic_error("ddpnopt: unknown curvature");
}

// Restores a stage's buffers (batch norm's running statistics) when it goes out of scope: the
// rollout has updated them once for this step, and the value pass's VJPs and the feedback pass's
// forward must not update them again.
class KeepBuffers {
 public:
  explicit KeepBuffers(control::Stage& stage) : stage_(stage) {
    for (const auto& b : stage.buffers()) saved_.push_back(b.clone());
  }
  ~KeepBuffers() {
    torch::NoGradGuard no_grad;
    const auto live = stage_.buffers();
    for (size_t i = 0; i < live.size(); ++i) live[i].copy_(saved_[i]);
  }

 private:
  control::Stage& stage_;
  std::vector<torch::Tensor> saved_;
};

}  // namespace

struct Ddpnopt::TrainableStage {
  std::unique_ptr<StageCurvature> curvature;
  torch::Tensor momentum;        // heavy-ball buffer of M⁻¹d, or Adam's first moment of d
  torch::Tensor gain_direction;  // seeds the power iteration for λ_max(Ĝ) (state: resumes exactly)
  // This step's backward-pass results, used by the feedback pass.
  ValueModel output_value;       // V at the stage's output
  LayerCoupling coupling;        // how the output sits around the layer (residual stages)
  torch::Tensor feedback_scale;  // per sample, with feedback_cap (else undefined)
  torch::Tensor state_factor;    // q_x = g_xᵀz_h, factored (else undefined)
  torch::Tensor mean_gradient, mean_direction, running_gradient;  // Q̄_u, M⁻¹Q̄_u, ℓ_u
  // A trainable stage without a linear layer (batch norm): its controls take the base
  // optimiser's open-loop step and the value passes through its state VJP.
  bool open_loop = false;
};

OptionSchema Ddpnopt::schema_for(const std::string& name) {
  OptionSchema schema(name);
  schema.choice("value_scale", "batch", {"batch", "literal"},
                "weight of each sample's V_xx correction −η Q_xu M⁻¹ Q_ux: 1/B (exact DDP on the "
                "batch-mean loss) or 1 (the literal per-sample reading, over-reduced B-fold)");
  if (name == "ddp") {
    return schema
        .real("lr", 0.1,
              "η, with Q_uu ≈ M/η (1 is the full DDP step, which overshoots on "
              "non-quadratic losses)",
              0, OptionSchema::kUnbounded, true)
        .real("damping", 1e-2, "added to the diagonal of the exact Q_uu", 0,
              OptionSchema::kUnbounded)
        .real("tikhonov", 0.0, "ε_V added to V_xx at each trainable stage's input", 0,
              OptionSchema::kUnbounded)
        .choice("blocks", "augmented", {"augmented", "diagonal"},
                "V_xx of the batch as one augmented state with every cross-sample block, or "
                "its per-sample diagonal blocks only (as DDPNOpt)")
        .integer("max_augmented_state", 2048,
                 "blocks=augmented: refuse a batch × widest-state size above this (V_xx is its "
                 "square)",
                 1, 1 << 16)
        .choice("gain", "batch", {"batch", "per-sample"},
                "k in V_x: per sample k^(s) = −ηM⁻¹Q_u^(s), or the batch step k̄")
        .flag("second_order", false, "the σ'' and g_ux dynamics terms in the value recursion")
        .integer("diagnostics_every", 10,
                 "steps between V_xx eigenvalue diagnostics per stage (0: never)", 0, 1 << 30)
        .integer("max_stage_controls", 4096,
                 "refuse stages with more controls (the exact Q_uu is cubic in them)", 1, 1 << 20);
  }
  return schema.real("lr", 0.01, "η, with Q_uu ≈ M/η", 0, OptionSchema::kUnbounded, true)
      .real("momentum", 0.0, "heavy-ball momentum on M⁻¹d (not with curvature=adam)", 0, 1)
      .choice("curvature", "diag", {"identity", "diag", "adam", "kfac", "ekfac"},
              "M_t: identity (SGD), diag (RMSprop), adam, kfac or ekfac (Kronecker factors)")
      .real("alpha", 0.99, "diag: EMA rate of Q_u ⊙ Q_u", 0, 1)
      .real("beta1", 0.9, "adam: EMA rate of d", 0, 1)
      .real("beta2", 0.999, "adam: EMA rate of Q_u ⊙ Q_u", 0, 1)
      .real("eps", 1e-8, "diag, adam: denominator guard", 0, 1, true)
      .choice("second_moment", "gradient", {"gradient", "direction"},
              "diag, adam: the EMA of Q̄_u ⊙ Q̄_u (the base optimiser's), or of the applied "
              "d ⊙ d, d = Q̄_u + feedback (octrain's: M then bounds the feedback as it bounds Q̄_u)")
      .real("decay", 0.95, "kfac, ekfac: EMA rate of the Kronecker factors", 0, 1)
      .real("damping", 1e-3, "kfac, ekfac: damping λ", 0, OptionSchema::kUnbounded, true)
      .integer("refresh_every", 10, "kfac, ekfac: steps between inverse/eigenbasis refreshes", 1,
               1 << 20)
      .integer("stats_every", 10, "kfac, ekfac: steps between factor updates", 1, 1 << 20)
      .choice("value_hessian", "factored", {"factored", "full"},
              "V_xx per sample: rank-one factor (any net) or full matrices (small dense nets)")
      .choice("terminal_hessian", "exact", {"exact", "outer"},
              "full V_xx at x_T: ∇²φ, or the Gauss-Newton outer product ∇φ∇φᵀ")
      .choice("terminal_factor", "sampled", {"sampled", "outer", "exact"},
              "factored V_xx at x_T: z with E[zzᵀ] = ∇²φ (cross-entropy: p − e_ŷ, ŷ drawn from "
              "the model), z = ∇φ (empirical Fisher, too large for confidently wrong samples), "
              "or exact: a rank-K factor of ∇²φ (K outputs; K× the factored cost)")
      .integer("terminal_draws", 1,
               "terminal_factor=sampled: draws averaged into a rank-D factor (D× the factored "
               "cost)",
               1, 64)
      .real("tikhonov", 0.0,
            "ε_V added to V_xx at each trainable stage's input, accumulated through the "
            "backward pass (factored: its diagonal; costs one W δx product per stage in the "
            "feedback pass)",
            0, OptionSchema::kUnbounded)
      .real("kl_clip", 1e-3,
            "kfac, ekfac: KL clipping κ of the feedback-free step, as in the kfac method (0: off)",
            0, OptionSchema::kUnbounded)
      .flag("feedback", true, "apply the feedback Q_ux δx (off: the base optimiser)")
      .choice("feedback_cap", "auto", {"auto", "none", "sample", "spectral"},
              "octrain's stabilisers of the factored feedback: spectral (the stage's feedback by "
              "1/max(1, λ_max(Ĝ)), Ĝ the batch closed-loop gain), sample (each sample's feedback "
              "and Q_uxᵀk by 1/max(1, λ_s), λ_s = (η/B) q_uᵀM⁻¹q_u), none (the paper's policy); "
              "auto: spectral when factored, none when full")
      .flag("positive_part", false,
            "full: replace each per-sample V_xx by its positive-semidefinite part")
      .integer("diagnostics_every", 10,
               "steps between per-stage diagnostics: λ_max(Ĝ) and clamped radicands (factored) "
               "or negative V_xx eigenvalues (full); 0: never",
               0, 1 << 30)
      .choice("gain", "batch", {"batch", "per-sample"},
              "k in V_x: the batch step k̄ = −ηM⁻¹Q̄_u, or per sample k^(s) = −ηM⁻¹Q_u^(s) "
              "(the literal reading; with diag curvature it amplifies per-sample noise)")
      .flag("second_order", false,
            "the σ'' and g_ux dynamics terms in the value recursion (needs value_hessian=full)");
}

Ddpnopt::Ddpnopt(const std::string& name, OptionValues options, control::Network& network)
    : Method(std::move(options)), name_(name) {
  const auto& o = options_;
  const bool ddp = name == "ddp";
  curvature_ = parse_curvature(ddp ? "exact" : o.text("curvature"));
  feedback_ = ddp || o.flag("feedback");
  value_hessian_ =
      ddp ? (o.text("blocks") == "augmented" ? ValueHessian::kAugmented : ValueHessian::kFull)
      : !feedback_                        ? ValueHessian::kNone
      : o.text("value_hessian") == "full" ? ValueHessian::kFull
                                          : ValueHessian::kFactored;
  exact_terminal_ = ddp || o.text("terminal_hessian") == "exact";
  const std::string terminal_factor = ddp ? "outer" : o.text("terminal_factor");
  terminal_factor_ = terminal_factor == "sampled" ? TerminalFactor::kSampled
                     : terminal_factor == "exact" ? TerminalFactor::kExact
                                                  : TerminalFactor::kOuter;
  terminal_draws_ = ddp ? 1 : o.integer("terminal_draws");
  if (terminal_draws_ > 1 && terminal_factor_ != TerminalFactor::kSampled)
    throw UsageError(name + ": terminal_draws applies to terminal_factor=sampled");
  second_order_ = o.flag("second_order");
  kl_clip_ =
      curvature_ == Curvature::kKfac || curvature_ == Curvature::kEkfac ? o.real("kl_clip") : 0.0;
  diagnostics_every_ = o.integer("diagnostics_every");
  direction_moments_ = !ddp && (curvature_ == Curvature::kDiag || curvature_ == Curvature::kAdam) &&
                       o.text("second_moment") == "direction";
  max_augmented_state_ = ddp ? o.integer("max_augmented_state") : 0;
  layer_options_.value_scale =
      o.text("value_scale") == "batch" ? ValueScale::kBatch : ValueScale::kLiteral;
  std::string cap = ddp ? "none" : o.text("feedback_cap");
  // auto: the spectral cap when factored (the learning-rate study and the CNN check in
  // docs/results/ddpnopt.md), none for full value Hessians.
  if (cap == "auto") cap = value_hessian_ == ValueHessian::kFactored ? "spectral" : "none";
  layer_options_.cap = cap == "sample"     ? FeedbackCap::kSample
                       : cap == "spectral" ? FeedbackCap::kSpectral
                                           : FeedbackCap::kNone;
  layer_options_.positive_part = !ddp && o.flag("positive_part");
  if (layer_options_.cap != FeedbackCap::kNone && value_hessian_ != ValueHessian::kFactored)
    throw UsageError(name + ": feedback_cap needs value_hessian=factored and feedback=true");
  if (layer_options_.positive_part && value_hessian_ != ValueHessian::kFull)
    throw UsageError(name + ": positive_part needs value_hessian=full and feedback=true");
  lr_ = o.real("lr");
  momentum_ = ddp ? 0.0 : o.real("momentum");
  beta1_ = ddp ? 0.0 : o.real("beta1");
  layer_options_.per_sample_gain = o.text("gain") == "per-sample";
  layer_options_.second_order = second_order_;
  layer_options_.tikhonov = o.real("tikhonov");
  if (second_order_ && value_hessian_ != ValueHessian::kFull)
    throw UsageError(name + ": second_order=true needs value_hessian=full and feedback=true");
  if (curvature_ == Curvature::kAdam && momentum_ > 0)
    throw UsageError(name + ": momentum applies to identity/diag curvature; adam has beta1");

  stages_.resize(network.size());
  bool seen_trainable = false;
  for (size_t t = 0; t < network.size(); ++t) {
    auto& stage = network.stage(t);
    const auto where = fmt::format("{}: stage {} ({})", name, t, stage.describe());
    if (!stage.trainable()) {
      const bool full_passes = stage.is_reshape() || stage.is_elementwise();
      if (seen_trainable && value_hessian_ != ValueHessian::kFactored &&
          value_hessian_ != ValueHessian::kNone && !full_passes)
        throw UsageError(where +
                         ": full value Hessians pass only activation and flatten stages; "
                         "use value_hessian=factored");
      continue;
    }
    if (!has_layer_curvature(stage)) {
      // Batch norm: no layer, and its statistics couple the samples, so no per-sample feedback
      // policy; its controls take the open-loop step of an element-wise curvature.
      const bool elementwise = curvature_ == Curvature::kIdentity ||
                               curvature_ == Curvature::kDiag || curvature_ == Curvature::kAdam;
      if (stage.control_set() != control::ControlSet::kReal || ddp || !elementwise ||
          value_hessian_ == ValueHessian::kFull)
        throw UsageError(where + fmt::format(" is not supported; {} handles real dense and conv2d "
                                             "stages and residual stages around them, with "
                                             "activation, pooling, flatten and channel-mean "
                                             "stages between them, and batch norm (open loop) "
                                             "with curvature=identity|diag|adam and "
                                             "value_hessian=factored",
                                             name));
      stages_[t] = std::make_unique<TrainableStage>();
      stages_[t]->curvature = make_curvature(curvature_, o, stage);
      stages_[t]->open_loop = true;
      seen_trainable = true;
      continue;
    }
    const bool plain_dense = stage.linear_layer()->is_matrix() && !stage.layer_form().skip;
    if ((value_hessian_ == ValueHessian::kFull || value_hessian_ == ValueHessian::kAugmented) &&
        !plain_dense)
      throw UsageError(where +
                       ": full value Hessians need plain dense stages; use "
                       "value_hessian=factored");
    if (ddp && stage.num_controls() > o.integer("max_stage_controls"))
      throw UsageError(where +
                       fmt::format(" has {} controls; the exact Q_uu is cubic in that and the "
                                   "limit is max_stage_controls={} (use ddpnopt)",
                                   stage.num_controls(), o.integer("max_stage_controls")));
    stages_[t] = std::make_unique<TrainableStage>();
    stages_[t]->curvature = make_curvature(curvature_, o, stage);
    seen_trainable = true;
  }
  if (!seen_trainable) throw UsageError(name + ": the network has no trainable stage");
}

Ddpnopt::~Ddpnopt() = default;

void Ddpnopt::check_augmented_size(control::Network& network, const control::Trajectory& trajectory,
                                   int64_t batch) const {
  if (value_hessian_ != ValueHessian::kAugmented) return;
  int64_t widest = 0;
  for (size_t t = 0; t < network.size(); ++t)
    if (stages_[t])
      widest =
          std::max({widest, trajectory.states[t][0].numel(), trajectory.states[t + 1][0].numel()});
  if (batch * widest > max_augmented_state_)
    throw UsageError(fmt::format(
        "{}: blocks=augmented holds the batch as one state of {} × {} = {} values (V_xx is its "
        "square), above max_augmented_state={}; use a smaller batch or blocks=diagonal",
        name_, batch, widest, batch * widest, max_augmented_state_));
}

StepStats Ddpnopt::step(control::Network& network, const control::TerminalLoss& loss,
                        const torch::Tensor& x, const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const auto trajectory = network.rollout(x, /*record_graphs=*/false);
  count_flops(forward_pass_flops(network, x.size(0)));
  check_augmented_size(network, trajectory, x.size(0));
  StepStats stats;
  stats.objective = network.running_cost();
  if (this->batch().distributed() && value_hessian_ == ValueHessian::kAugmented)
    throw UsageError(name_ +
                     ": blocks=augmented couples every pair of samples and cannot be "
                     "split across processes; use blocks=diagonal or one process");
  auto value = terminal_value(loss, trajectory.output(), y, value_hessian_, exact_terminal_,
                              &stats.loss, terminal_factor_, &this->batch(), terminal_draws_);
  stats.objective += stats.loss;
  stats.accuracy = batch_accuracy(loss, trajectory.output(), y);
  KlClip clipping(kl_clip_);
  backward_pass(network, trajectory, std::move(value), clipping, stats);
  // KL clipping as in the kfac method, from the feedback-free step (the feedback's is not known
  // before the forward pass), so that without feedback this is exactly `kfac`.
  const double clip = clipping.factor(lr_ * lr_scale_);
  if (clipping.enabled()) stats.extras["kl_clip_scale"] = clip;
  feedback_pass(network, trajectory, clip, stats);
  stats.resolve();
  return stats;
}

std::pair<size_t, size_t> Ddpnopt::trainable_range() const {
  size_t first = 0, last = 0;
  for (size_t t = stages_.size(); t-- > 0;)
    if (stages_[t]) first = t;
  for (size_t t = 0; t < stages_.size(); ++t)
    if (stages_[t]) last = t;
  return {first, last};
}

LayerValueOptions Ddpnopt::step_layer_options() const {
  auto options = layer_options_;
  options.lr = lr_ * lr_scale_;
  options.batch = &this->batch();
  options.diagnostics = diagnostics_every_ > 0 && steps_ % diagnostics_every_ == 0 &&
                        value_hessian_ != ValueHessian::kNone;
  return options;
}

void Ddpnopt::backward_pass(control::Network& network, const control::Trajectory& trajectory,
                            ValueModel value, KlClip& clipping, StepStats& stats) {
  const auto& states = trajectory.states;
  const double batch = double(trajectory.batch_size());
  const auto [first, last] = trainable_range();
  auto layer_options = step_layer_options();
  // Curvature statistics, Q̄_u, M⁻¹Q̄_u and the value model at every stage's output.
  int64_t clamps = 0;
  for (size_t t = network.size(); t-- > first;) {
    auto& stage = network.stage(t);
    const auto& x_t = states[t];
    auto* trainable = stages_[t].get();
    if (!trainable) {
      value = stage_free_value(stage, x_t, states[t + 1], value, second_order_);
      continue;
    }
    if (trainable->open_loop) {
      value = open_loop_value(stage, *trainable, x_t, states[t + 1], value, batch, clipping);
      if (t == first) break;
      continue;
    }
    const auto running = stage.running_cost_gradients();
    trainable->running_gradient =
        running.empty() ? torch::Tensor() : to_layer_matrix(stage, running);
    trainable->coupling = layer_coupling(stage, x_t);
    const auto layer_gradient = trainable->coupling.to_layer(value.gradient);  // V_h per sample
    auto mean_gradient = layer_control_vjp(stage, x_t, layer_gradient).div_(batch);
    this->batch().mean(mean_gradient);  // Q̄_u over the global batch
    if (!running.empty()) mean_gradient += trainable->running_gradient;
    trainable->mean_gradient = mean_gradient;
    auto& curvature = *trainable->curvature;
    if (value.full())
      curvature.set_value_hessian(layer_inputs(stage, x_t).squeeze(1), value.hessian,
                                  stage.running_cost_weights().l2, &this->batch());
    LayerRows rows;
    if (curvature.uses_rows()) rows = layer_rows(stage, x_t, layer_gradient);
    rows.shard = &this->batch();
    curvature.observe(rows, mean_gradient);
    trainable->mean_direction = curvature.solve(mean_gradient);
    clipping.add(trainable->mean_direction, mean_gradient);
    trainable->output_value = value;
    if (t == first) break;  // V at x_0 is never used
    // The factor at this stage's input serves only trainable stages after the first.
    layer_options.need_factor = false;
    for (size_t s = first + 1; s < t; ++s) layer_options.need_factor |= stages_[s] != nullptr;
    layer_options.gain_start = trainable->gain_direction;
    auto next = layer_value(stage, x_t, trainable->coupling, value, curvature,
                            trainable->running_gradient, trainable->mean_direction, layer_options);
    if (next.gain_direction.defined()) trainable->gain_direction = next.gain_direction;
    clamps += next.radicand_clamps;
    if (layer_options.diagnostics) {
      stats.extras[stage_key(t, "negative_fraction")] = next.negative_fraction;
      if (value_hessian_ == ValueHessian::kFactored)
        stats.extras[stage_key(t, "closed_loop_gain")] = next.gain;
    }
    trainable->feedback_scale = next.feedback_scale;
    trainable->state_factor = next.state_factor;
    value = std::move(next.value);
  }
  if (value_hessian_ == ValueHessian::kFactored)
    stats.extras["radicand_clamps"] = this->batch().sum(double(clamps));
}

ValueModel Ddpnopt::open_loop_value(control::Stage& stage, TrainableStage& trainable,
                                    const torch::Tensor& x, const torch::Tensor& y,
                                    const ValueModel& next, double batch, KlClip& clipping) {
  KeepBuffers keep(stage);
  // Q̄_u = (1/B) Σ_s (∂f/∂θ)ᵀ V_x,s (+ ℓ_u) through the stage's own VJP: batch norm's couples
  // the samples through its statistics, as its gradient does.
  const auto vjp = stage.vjp(x, y, next.gradient, /*need_costate=*/false, nullptr);
  auto mean_gradient = to_layer_matrix(stage, vjp.control_grads).div_(batch);
  this->batch().mean(mean_gradient);
  const auto running = stage.running_cost_gradients();
  if (!running.empty()) mean_gradient += to_layer_matrix(stage, running);
  count_flops(2 * layer_product_flops(stage, x));
  trainable.mean_gradient = mean_gradient;
  LayerRows rows;
  rows.shard = &this->batch();
  trainable.curvature->observe(rows, mean_gradient);
  trainable.mean_direction = trainable.curvature->solve(mean_gradient);
  clipping.add(trainable.mean_direction, mean_gradient);
  return stage_free_value(stage, x, y, next, second_order_);
}

void Ddpnopt::feedback_pass(control::Network& network, const control::Trajectory& trajectory,
                            double clip, StepStats& stats) {
  // Each stage's update sees the new states x̂_t of the stages updated before it.
  const auto& states = trajectory.states;
  const double batch = double(trajectory.batch_size());
  const auto [first, last] = trainable_range();
  auto x_hat = states[first];
  torch::Tensor feedback_total;  // Σ_t ‖feedback_t‖², on the device
  for (size_t t = first; t <= last; ++t) {
    auto& stage = network.stage(t);
    if (auto* trainable = stages_[t].get()) {
      torch::Tensor feedback;
      if (feedback_ && t != first && !trainable->open_loop) {
        feedback = feedback_gradient(stage, states[t], trainable->output_value, x_hat - states[t],
                                     second_order_, trainable->feedback_scale,
                                     trainable->state_factor, trainable->coupling)
                       .div_(batch);
        this->batch().mean(feedback);  // E[Q_ux δx] over the global batch
        const auto squared = feedback.square().sum();
        stats.defer(stage_key(t, "feedback_norm"), squared.sqrt());
        feedback_total = feedback_total.defined() ? feedback_total + squared : squared;
      }
      update(stage, *trainable, feedback, clip, stats, t);
      trainable->output_value = {};
      trainable->coupling = {};
      trainable->feedback_scale = trainable->state_factor = torch::Tensor();
    }
    if (feedback_ && t < last) {
      count_flops(layer_product_flops(stage, x_hat));
      KeepBuffers keep(stage);
      x_hat = stage.forward(x_hat);
    }
  }
  if (feedback_total.defined())
    stats.defer("feedback_norm", feedback_total.sqrt());
  else if (feedback_)
    stats.extras["feedback_norm"] = 0.0;
}

void Ddpnopt::update(control::Stage& stage, TrainableStage& trainable,
                     const torch::Tensor& feedback, double clip, StepStats& stats, size_t t) {
  const double lr = lr_ * lr_scale_;
  auto& curvature = *trainable.curvature;
  // d = Q̄_u + feedback, formed only where it is used: Adam's moment, or with
  // second_moment=direction, where the diagonal M sees the direction applied, not only Q̄_u.
  const bool revised = direction_moments_ && feedback.defined();
  const auto direction = !feedback.defined() ? trainable.mean_gradient
                         : revised || curvature_ == Curvature::kAdam
                             ? trainable.mean_gradient + feedback
                             : torch::Tensor();
  if (revised) curvature.revise(trainable.mean_gradient, direction);
  torch::Tensor delta;                   // −η·step
  if (curvature_ == Curvature::kAdam) {  // torch::optim::Adam's update with M = √v̂ + ε
    delta = adam_update(static_cast<DiagonalCurvature&>(curvature), trainable.momentum, direction,
                        beta1_, steps_, lr);
  } else {
    // M⁻¹ is linear: M⁻¹(Q̄_u + feedback) reuses the backward pass's M⁻¹Q̄_u (M unrevised).
    const auto step = revised              ? curvature.solve(direction)
                      : feedback.defined() ? trainable.mean_direction + curvature.solve(feedback)
                                           : trainable.mean_direction;
    delta = momentum_update(step, clip, trainable.momentum, momentum_, lr).update;
  }
  apply_update(stage, delta);
  stats.defer(stage_key(t, "update_norm"), delta.norm());
}

int64_t Ddpnopt::work_period() const {
  if (curvature_ != Curvature::kKfac && curvature_ != Curvature::kEkfac) return 1;
  return KroneckerMethod::curvature_options(options_, curvature_ == Curvature::kEkfac).period();
}

void Ddpnopt::save(torch::serialize::OutputArchive& archive) const {
  archive.write("steps", torch::tensor(steps_));
  for (size_t t = 0; t < stages_.size(); ++t) {
    if (!stages_[t]) continue;
    const auto prefix = stage_key(t, "");
    stages_[t]->curvature->save(archive, prefix);
    if (stages_[t]->momentum.defined()) archive.write(prefix + "momentum", stages_[t]->momentum);
    if (stages_[t]->gain_direction.defined())
      archive.write(prefix + "gain_direction", stages_[t]->gain_direction);
  }
}

void Ddpnopt::load(torch::serialize::InputArchive& archive) {
  torch::Tensor steps;
  archive.read("steps", steps);
  steps_ = steps.item<int64_t>();
  for (size_t t = 0; t < stages_.size(); ++t) {
    if (!stages_[t]) continue;
    const auto prefix = stage_key(t, "");
    stages_[t]->curvature->load(archive, prefix);
    torch::Tensor momentum;
    if (archive.try_read(prefix + "momentum", momentum)) stages_[t]->momentum = momentum;
    torch::Tensor direction;
    if (archive.try_read(prefix + "gain_direction", direction))
      stages_[t]->gain_direction = direction;
  }
}

}  // namespace octrain::methods
