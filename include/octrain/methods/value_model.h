#pragma once

#include <torch/types.h>

namespace octrain::control {
class Stage;
class TerminalLoss;
}  // namespace octrain::control

namespace octrain::methods {

class StageCurvature;

// DDP's per-sample quadratic model of the value function V_t at the states x_t of one batch
// (ALGORITHMS.md §4, [DDPN] Liu, Chen & Theodorou 2021): the gradient V_x and the Hessian V_xx
// either FULL (one n×n matrix per sample, n the flattened state size) or FACTORED, the rank-one
// z zᵀ of Proposition 3 plus an optional Tikhonov diagonal.
struct ValueModel {
  torch::Tensor gradient;  // V_x [B, …], for the per-sample terminal cost φ_s (not divided by B)
  torch::Tensor hessian;   // FULL: V_xx [B, n, n]; undefined in the other modes
  torch::Tensor factor;    // FACTORED: z [B, …]; undefined in the other modes
  torch::Tensor tikhonov;  // FACTORED: diagonal e [B, …] of V_xx = z zᵀ + diag(e); may be undefined
  bool full() const { return hessian.defined(); }
  bool factored() const { return factor.defined(); }
};

// Per-sample Hessians ∇²φ_s(x_T) [B, K, K] of the terminal cost, by autograd.
torch::Tensor per_sample_hessian(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                                 const torch::Tensor& y);

enum class ValueHessian { kNone, kFull, kFactored };
// V_T at x_T: V_x = ∇φ_s and V_xx = ∇²φ_s (FULL with `exact_terminal`), the Gauss-Newton outer
// product ∇φ ∇φᵀ (FULL without it), or its factor z = ∇φ (FACTORED). Also returns the batch-mean
// loss in `loss_value`.
ValueModel terminal_value(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                          const torch::Tensor& y, ValueHessian mode, bool exact_terminal,
                          double* loss_value);

// V_t from V_{t+1} through a stage without controls, f_t linear or element-wise:
// V_x = f_xᵀ V'_x, z = f_xᵀ z', e = f_x² e' (activations and reshapes; dropped elsewhere) and
// FULL V_xx = f_xᵀ V'_xx f_x (+ diag(V'_x ⊙ σ'') with `second_order`) for activations and
// flatten; UsageError naming the stage for FULL through anything else.
ValueModel stage_free_value(control::Stage& stage, const torch::Tensor& x,
                            const torch::Tensor& y, const ValueModel& next, bool second_order);

struct LayerValueOptions {
  double lr = 1.0;                 // η: Q_uu ≈ M/η
  bool per_sample_gain = false;    // k^(s) = −η M⁻¹ Q_u^(s) in V_x (else the batch step k̄)
  bool second_order = false;       // the g_ux term of the dense stage (FULL only)
  double tikhonov = 0.0;           // ε_V added to V_xx at the stage's input
  bool newton_cap = false;         // FACTORED: scale Q_uxᵀk by LayerValue::feedback_scale
  bool need_factor = true;         // FACTORED: false leaves the factor at the input undefined
                                   // (no trainable stage before this one uses it)
};
struct LayerValue {
  ValueModel value;          // V_t at the stage's input
  int64_t radicand_clamps;   // FACTORED: samples whose 1 − η q_uᵀM⁻¹q_u was negative
  // FACTORED: 1/max(1, η q_uᵀM⁻¹q_u) per sample [B]. Along z_h the feedback moves a sample's
  // pre-activation by −η q_uᵀM⁻¹q_u (z_h·a): beyond 1 it over-corrects, and beyond 2 it amplifies
  // δx from stage to stage. Scaling that sample's feedback by this caps the correction at the
  // Newton step, where the clamped radicand already puts its V_xx.
  torch::Tensor feedback_scale;
  // FACTORED with need_factor: q_x = g_xᵀz_h [B, …], so that the feedback's z_h·(g_x δx) is the
  // per-sample dot product q_x·δx instead of another pass through the stage.
  torch::Tensor state_factor;
};
// V_t from V_{t+1} through a real dense or conv2d stage h = g(x, u) with curvature M (already
// updated for this step), running-cost gradient ℓ_u and batch step direction M⁻¹Q̄_u (layer
// matrices):
//   V_x = Q_x + Q_uxᵀ k,   V_xx = Q_xx − η Q_uxᵀ M⁻¹ Q_ux   (+ ε_V I),
// FULL with Q_ux formed per sample (dense stages only), FACTORED in closed form (Proposition 3).
LayerValue layer_value(control::Stage& stage, const torch::Tensor& x, const ValueModel& next,
                       const StageCurvature& curvature, const torch::Tensor& running_gradient,
                       const torch::Tensor& mean_direction, const LayerValueOptions& options);

// Σ_s Q_ux^(s) δx_s as a layer matrix, never forming Q_ux: with a = g_x δx the feedback is the
// weight gradient of the output gradient r = V_hh a (FULL: V_xx a; FACTORED: (z·a) z + e ⊙ a),
// plus, with `second_order`, the g_ux term Σ_s V_h,s δx_sᵀ. `next` is V at the stage's output;
// `sample_scale` [B], if defined, multiplies each sample's r (LayerValue::feedback_scale);
// `state_factor`, if defined, is LayerValue::state_factor (used when `next` has no Tikhonov term).
torch::Tensor feedback_gradient(control::Stage& stage, const torch::Tensor& x,
                                const ValueModel& next, const torch::Tensor& delta_x,
                                bool second_order, const torch::Tensor& sample_scale = {},
                                const torch::Tensor& state_factor = {});

}  // namespace octrain::methods
