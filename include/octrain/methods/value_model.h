#pragma once

#include <torch/types.h>

#include "octrain/dist/batch_reducer.h"
#include "octrain/methods/layer_maps.h"

namespace octrain::control {
class Stage;
class TerminalLoss;
}  // namespace octrain::control

namespace octrain::methods {

class StageCurvature;

// DDP's per-sample quadratic model of the value function V_t at the states x_t of one batch
// (docs/methods/ddpnopt.md, [DDPN] Liu, Chen & Theodorou 2021), in per-sample units: V^(s) is B
// times the derivative of the batch value with respect to x^(s). The Hessian is FULL (one n×n
// block per sample, n the flattened state size), AUGMENTED (the whole batch as one state: every
// block, [B, n, B, n]; vanilla DDP) or FACTORED (the rank-one z zᵀ of Proposition 3, or a rank-K
// Σ_k z_k z_kᵀ, plus an optional Tikhonov diagonal).
struct ValueModel {
  torch::Tensor gradient;  // V_x [B, …], for the per-sample terminal cost φ_s (not divided by B)
  torch::Tensor hessian;   // FULL: V_xx [B, n, n]; AUGMENTED: [B, n, B, n]; else undefined
  torch::Tensor factor;    // FACTORED: z [B, …], rank K: [K·B, …] (column k in rows k·B…);
                           // undefined in the other modes
  torch::Tensor tikhonov;  // FACTORED: diagonal e [B, …] of V_xx = z zᵀ + diag(e); may be undefined
  bool full() const { return hessian.defined(); }
  bool augmented() const { return hessian.defined() && hessian.dim() == 4; }
  bool factored() const { return factor.defined(); }
};

// Per-sample Hessians ∇²φ_s(x_T) [B, K, K] of the terminal cost, by autograd.
torch::Tensor per_sample_hessian(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                                 const torch::Tensor& y);

enum class ValueHessian { kNone, kFull, kAugmented, kFactored };
// The terminal factor z of FACTORED mode: the Gauss-Newton outer product z = ∇φ_s (an empirical
// Fisher, biased), or one draw with E[z zᵀ] = ∇²φ_s (for cross-entropy z = p − e_ŷ with ŷ drawn
// from the model's own prediction, as K-FAC samples its Fisher; for other losses z = H^½ ε with
// ε ~ N(0, I) and H the per-sample Hessian, negative eigenvalues dropped). Draws use torch's
// global generator, which checkpoints save, so runs resume exactly.
// EXACT: a rank-K factor (K the output width) with z zᵀ = ∇²φ_s exactly (for MSE the constant
// Hessian; for cross-entropy diag(p) − ppᵀ), at K times the factored recursion's cost. SAMPLED
// with several draws averages them: rank D, Σ_k z_k z_kᵀ / D.
enum class TerminalFactor { kOuter, kSampled, kExact };
// V_T at x_T: V_x = ∇φ_s and V_xx = ∇²φ_s (FULL/AUGMENTED with `exact_terminal`), the
// Gauss-Newton outer product ∇φ ∇φᵀ (without it), or the factor z (FACTORED). Also returns the
// batch-mean loss in `loss_value`.
ValueModel terminal_value(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                          const torch::Tensor& y, ValueHessian mode, bool exact_terminal,
                          double* loss_value, TerminalFactor factor = TerminalFactor::kOuter,
                          const dist::BatchReducer* shard = nullptr, int64_t draws = 1);
// One draw z [B, K] per sample with E[z zᵀ] = ∇²φ_s(x_T) (TerminalFactor::kSampled). With a
// data-parallel `shard`, the draws are those of the global batch's rows [offset, offset + B), so
// N processes draw what one process draws.
torch::Tensor sampled_terminal_factor(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                                      const torch::Tensor& y,
                                      const dist::BatchReducer* shard = nullptr);
// `draws` draws of sampled_terminal_factor as one rank-`draws` factor [draws·B, …] (column k of
// sample s in row k·B + s), each divided by √draws; one draw is sampled_terminal_factor itself.
torch::Tensor averaged_terminal_factor(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                                       const torch::Tensor& y, int64_t draws,
                                       const dist::BatchReducer* shard = nullptr);
// The exact factor of TerminalFactor::kExact, [K·B, …] with K the output width.
torch::Tensor exact_terminal_factor(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                                    const torch::Tensor& y);

// V_t from V_{t+1} through a stage without controls, f_t linear or element-wise:
// V_x = f_xᵀ V'_x, z = f_xᵀ z', e = f_x² e' (activations and reshapes; dropped elsewhere) and
// FULL V_xx = f_xᵀ V'_xx f_x (+ diag(V'_x ⊙ σ'') with `second_order`) for activations and
// flatten; UsageError naming the stage for FULL through anything else.
ValueModel stage_free_value(control::Stage& stage, const torch::Tensor& x, const torch::Tensor& y,
                            const ValueModel& next, bool second_order);

// How the cross term −Q_xu Q_uu⁻¹ Q_ux of one sample is weighted when Q_uu ≈ M/η is a batch
// quantity: by η/B (BATCH, exact DDP on the batch-mean objective J = (1/B) Σ_s φ_s) or by η (the
// LITERAL per-sample reading, which over-reduces V_xx B-fold; kept for comparison).
enum class ValueScale { kBatch, kLiteral };
// Stabilisers of the feedback policy (octrain's own; the paper applies the plain policy):
// SAMPLE scales each sample's feedback and its Q_uxᵀk term in V_x by 1/max(1, λ_s), λ_s the
// sample's own gain (η/B) q_uᵀM⁻¹q_u; SPECTRAL scales the whole stage's feedback by
// 1/max(1, λ_max(Ĝ)), Ĝ_ss' = (η/B) q_u^sᵀ M⁻¹ q_u^s' the closed-loop gain of the batch-mean
// policy along the samples' z_h (power iteration), and the Q_xu k̄ term of V_x with it; V_xx is
// that of the scaled policy.
enum class FeedbackCap { kNone, kSample, kSpectral };

struct LayerValueOptions {
  double lr = 1.0;  // η: Q_uu ≈ M/η
  ValueScale value_scale = ValueScale::kBatch;
  bool per_sample_gain = false;  // k^(s) = −η M⁻¹ Q_u^(s) in V_x (else the batch step k̄)
  bool second_order = false;     // the g_ux term of the dense stage (FULL only)
  double tikhonov = 0.0;         // ε_V added to V_xx at the stage's input
  FeedbackCap cap = FeedbackCap::kNone;  // FACTORED
  bool positive_part = false;            // FULL: V_xx ← its positive-semidefinite part
  bool diagnostics = false;              // fill LayerValue's gain and negative_fraction
  torch::Tensor gain_start;              // FACTORED: the last step's LayerValue::gain_direction
  // Data-parallel runs: x is this rank's shard; B in c = 1/B is the global batch and the power
  // iteration for λ_max(Ĝ) runs over every rank's samples. Null: one process.
  const dist::BatchReducer* batch = nullptr;
  bool need_factor = true;  // FACTORED: false leaves the factor at the input
                            // undefined (no trainable stage before uses it)
};
struct LayerValue {
  ValueModel value;         // V_t at the stage's input
  int64_t radicand_clamps;  // FACTORED: samples whose radicand 1 − c·λ_s was negative
  // With diagnostics: the fraction of negative eigenvalues of the V_xx blocks (FULL/AUGMENTED)
  // or of clamped radicands (FACTORED) at the stage's input, and (FACTORED) λ_max(Ĝ).
  double negative_fraction = 0.0;
  double gain = 0.0;
  torch::Tensor gain_direction;  // the power iteration's direction, to seed the next step's
  // FACTORED with a cap: the scale of each sample's feedback [B]; undefined without a cap.
  torch::Tensor feedback_scale;
  // FACTORED with need_factor: q_x = g_xᵀz_h [B, …], so that the feedback's z_h·(g_x δx) is the
  // per-sample dot product q_x·δx instead of another pass through the stage.
  torch::Tensor state_factor;
};
// V_t from V_{t+1} through a real dense or conv2d stage h = g(x, u) with curvature M (already
// updated for this step), running-cost gradient ℓ_u and batch step direction M⁻¹Q̄_u (layer
// matrices), with c = 1/B (BATCH) or 1 (LITERAL):
//   V_x^(s) = Q_x^(s) + Q_xu^(s) k̄,   V_xx^(s) = Q_xx^(s) − c·η Q_xu^(s) M⁻¹ Q_ux^(s)   (+ ε_V I),
// FULL with Q_ux formed per sample (dense stages only), AUGMENTED with the cross-sample blocks
// −(η/B) Q_xu^(s) M⁻¹ Q_ux^(s') too, FACTORED in closed form (Proposition 3).
// A residual stage y = x + δ·σ(h) (LayerCoupling) enters through h: v_h = δσ'(h) ⊙ V'_x and
// z_h = δσ'(h) ⊙ z' replace V'_x and z' in the formulas, and the identity branch adds V'_x +
// z'·(z_hᵀ g_u k̄) to V_x and z' to q_x (FACTORED only; FULL needs a plain dense stage).
LayerValue layer_value(control::Stage& stage, const torch::Tensor& x, const LayerCoupling& coupling,
                       const ValueModel& next, const StageCurvature& curvature,
                       const torch::Tensor& running_gradient, const torch::Tensor& mean_direction,
                       const LayerValueOptions& options);
// The same for a plain dense or conv2d stage (no coupling).
LayerValue layer_value(control::Stage& stage, const torch::Tensor& x, const ValueModel& next,
                       const StageCurvature& curvature, const torch::Tensor& running_gradient,
                       const torch::Tensor& mean_direction, const LayerValueOptions& options);

// λ_max of Ĝ_ss' = w q_u^sᵀ M⁻¹ q_u^s' (w = η/B) with q_u^s = g_uᵀ z_s (z at the stage's
// output), by power iteration to 1 % without forming Ĝ, seeded from `start` (a parameter-space
// direction, the last call's `direction`; undefined: a flat start).
struct ClosedLoopGain {
  double value = 0.0;
  torch::Tensor direction;  // M⁻¹Qv of the top eigenvector v, unit norm: the next call's start
};
ClosedLoopGain closed_loop_gain(control::Stage& stage, const torch::Tensor& x,
                                const torch::Tensor& z, const StageCurvature& curvature,
                                double weight, const torch::Tensor& start = {},
                                const dist::BatchReducer* batch = nullptr);

// Σ_s Q_ux^(s) δx_s as a layer matrix, never forming Q_ux: with a = g_x δx the feedback is the
// weight gradient of the output gradient r = V_hh a (FULL: V_xx a; FACTORED: (z·a) z + e ⊙ a;
// through a residual coupling a = δx + slope ⊙ g_x δx and r is taken back by the slope),
// plus, with `second_order`, the g_ux term Σ_s V_h,s δx_sᵀ. `next` is V at the stage's output;
// `sample_scale` [B], if defined, multiplies each sample's r (LayerValue::feedback_scale);
// `state_factor`, if defined, is LayerValue::state_factor (used when `next` has no Tikhonov term).
torch::Tensor feedback_gradient(control::Stage& stage, const torch::Tensor& x,
                                const ValueModel& next, const torch::Tensor& delta_x,
                                bool second_order, const torch::Tensor& sample_scale = {},
                                const torch::Tensor& state_factor = {},
                                const LayerCoupling& coupling = {});

}  // namespace octrain::methods
