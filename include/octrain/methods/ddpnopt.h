#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "octrain/methods/method.h"
#include "octrain/methods/value_model.h"

namespace octrain::methods {

class KlClip;
class StageCurvature;

// DDPNOpt (Liu, Chen & Theodorou, ICLR 2021; docs/methods/ddpnopt.md) and vanilla DDP.
//
// One step: the nominal rollout; a backward pass of the per-sample value model (V_x and V_xx,
// FULL or FACTORED) through every stage, with one shared curvature M_t per trainable stage
// standing in for Q_uu = M_t/η; then a second forward pass that applies the layer-wise feedback
// policy with the new states:
//   δx_t = x̂_t − x_t,   d_t = (1/B) Σ_s (Q_u^(s) + Q_ux^(s) δx_t^(s)),   u_t ← u_t − η M_t⁻¹ d_t.
// Without feedback and with M = I, diag, Adam's or K-FAC's curvature this is exactly SGD,
// RMSprop, Adam or K-FAC (the paper's Proposition 2).
//
// `ddp` is vanilla DDP: the batch as one augmented state (every cross-sample block of V_xx, or
// only the per-sample blocks with blocks=diagonal) and M_t the exact Gauss-Newton
// Q_uu = ℓ_uu + (1/B) Σ_s,s' g_u^(s)ᵀ V_hh^(s,s') g_u^(s') of small dense stages.
class Ddpnopt : public Method {
 public:
  // `name` is "ddpnopt" or "ddp"; options parsed from schema_for(name). Throws UsageError naming
  // the first stage the chosen options cannot handle.
  Ddpnopt(const std::string& name, OptionValues options, control::Network& network);
  ~Ddpnopt() override;
  static OptionSchema schema_for(const std::string& name);

  // M_t: SGD's identity, RMSprop's diagonal, Adam's, K-FAC's or EKFAC's Kronecker factors, or
  // (ddp) the exact Gauss-Newton Q_uu.
  enum class Curvature { kIdentity, kDiag, kAdam, kKfac, kEkfac, kExact };

  std::string name() const override { return name_; }
  StepStats step(control::Network& network, const control::TerminalLoss& loss,
                 const torch::Tensor& x, const torch::Tensor& y) override;
  void set_learning_rate_scale(double scale) override { lr_scale_ = scale; }
  int64_t work_period() const override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  struct TrainableStage;

  // UsageError when blocks=augmented would hold more than max_augmented_state values.
  void check_augmented_size(control::Network& network, const control::Trajectory& trajectory,
                            int64_t batch) const;

  // The first and last trainable stage.
  std::pair<size_t, size_t> trainable_range() const;
  // layer_options_ with this step's η, batch reducer and diagnostics switch.
  LayerValueOptions step_layer_options() const;
  // From V_T back to the first trainable stage: curvature statistics, Q̄_u and M⁻¹Q̄_u of every
  // trainable stage (each ⟨M⁻¹Q̄_u, Q̄_u⟩ into `clipping`), and V at its output for the feedback
  // pass.
  void backward_pass(control::Network& network, const control::Trajectory& trajectory,
                     ValueModel terminal, KlClip& clipping, StepStats& stats);
  // A batch-norm stage in the backward pass: its Q̄_u and M⁻¹Q̄_u (into `clipping`), and V at its
  // input through its state VJP.
  ValueModel open_loop_value(control::Stage& stage, TrainableStage& trainable,
                             const torch::Tensor& x, const torch::Tensor& y, const ValueModel& next,
                             double batch, KlClip& clipping);
  // The second forward pass: each trainable stage's update with its feedback Q_ux δx from the
  // states the already-updated stages produce.
  void feedback_pass(control::Network& network, const control::Trajectory& trajectory, double clip,
                     StepStats& stats);
  // u_t ← u_t − η·clip·M⁻¹(Q̄_u + feedback), with momentum, or Adam's update of Q̄_u + feedback:
  // the chains of update_transforms.h.
  void update(control::Stage& stage, TrainableStage& trainable, const torch::Tensor& feedback,
              double clip, StepStats& stats, size_t t);

  std::string name_;
  Curvature curvature_;
  ValueHessian value_hessian_;
  TerminalFactor terminal_factor_;
  int64_t terminal_draws_ = 1;
  bool feedback_, second_order_, exact_terminal_, direction_moments_;
  int64_t diagnostics_every_, max_augmented_state_;
  LayerValueOptions layer_options_;
  double lr_, momentum_, beta1_, kl_clip_;
  double lr_scale_ = 1.0;
  int64_t steps_ = 0;
  std::vector<std::unique_ptr<TrainableStage>> stages_;  // indexed by stage; null if no controls
};

}  // namespace octrain::methods
