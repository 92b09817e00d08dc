#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "octrain/dist/batch_reducer.h"

namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

namespace octrain::control {
class Stage;
}

namespace octrain::methods {

// Curvature of one dense or conv2d stage, shared by the second-order baselines (K-FAC, EKFAC)
// and DDPNOpt's M_t (docs/methods/ddpnopt.md, docs/methods/baselines.md).
//
// Layer gradients are one matrix per stage, [out, fan + 1] with a bias and [out, fan] without:
// the weight flattened per output unit (conv: in·k·k in unfold order), the bias as the last
// column. The "rows" of a step are the stage's inputs x̃ = [x; 1] and the per-sample gradients
// g = ∂φ_s/∂h of the pre-activation h = f_t(x, θ) — for a dense stage one row per sample, for a
// conv stage one row per sample and output position (unfolded patches).
//
// A trainable stage without such a layer (batch norm) has a flat "layer matrix" [1, N] of its
// controls in controls() order, and its rows are the per-sample control gradients instead
// (the diagonal fallback, DiagonalFisherCurvature).
struct LayerRows {
  torch::Tensor inputs;            // x̃ [N, fan(+1)]
  torch::Tensor output_grads;      // g [N, out], for the per-sample loss φ_s (not divided by B)
  torch::Tensor sample_gradients;  // fallback: ∂φ_s/∂θ [B, num_controls]
  int64_t batch_size = 0;          // B; N = B·L for a conv stage with L output positions
  // Data-parallel: the rows are this rank's shard, and statistics over them are reduced to the
  // global batch's through it. Null: one process.
  const dist::BatchReducer* shard = nullptr;
};

// The rows of `stage`'s real affine layer (Dense, Conv2d or a residual's inner layer) at input
// x [B, …] with the layer-output gradients `output_grad` [B, out(, H', W')]; UsageError naming the
// stage otherwise.
LayerRows layer_rows(control::Stage& stage, const torch::Tensor& x,
                     const torch::Tensor& output_grad);
// The stage's inputs x̃ alone as [B, L, fan(+1)] (L = 1 for dense): the per-sample patches.
torch::Tensor layer_inputs(control::Stage& stage, const torch::Tensor& x);
// The fallback rows of any trainable stage: per-sample control gradients for the output
// cotangent `output_grad` (per-sample units, not divided by B) at the stage's output.
LayerRows sample_gradient_rows(control::Stage& stage, const torch::Tensor& x,
                               const torch::Tensor& output_grad);
// Controls (weight, bias) → one layer-gradient matrix, and back (shapes of stage.controls());
// stages without a layer use the flat [1, N] form.
torch::Tensor to_layer_matrix(control::Stage& stage, const std::vector<torch::Tensor>& controls);
std::vector<torch::Tensor> from_layer_matrix(control::Stage& stage, const torch::Tensor& matrix);
// True for the stages with a real affine layer (Dense, Conv2d, Residual around one): the ones a
// Kronecker block serves.
bool has_layer_curvature(control::Stage& stage);

// M_t of one stage: statistics gathered each step, M⁻¹ applied to layer gradients.
class StageCurvature {
 public:
  virtual ~StageCurvature() = default;
  // Folds one step's statistics in: its rows and the batch-mean layer gradient [out, fan(+1)]
  // (the gradient of the batch-mean objective, running cost included).
  virtual void observe(const LayerRows& rows, const torch::Tensor& mean_gradient) = 0;
  // Replaces the batch-mean gradient of the last observe() by `applied`, the direction the step
  // actually takes (DDPNOpt's Q̄_u + feedback), for curvatures built from it; others ignore it.
  virtual void revise(const torch::Tensor& observed, const torch::Tensor& applied) {}
  // The value Hessian V_hh at the stage's output, for curvatures built from it (vanilla DDP's
  // exact Gauss-Newton Q_uu); the others ignore it. `inputs` are x̃ [B, fan(+1)], `l2` the running
  // cost's ℓ_uu = l2·I.
  virtual void set_value_hessian(const torch::Tensor& inputs, const torch::Tensor& v_hh, double l2,
                                 const dist::BatchReducer* shard) {}
  // False when observe() ignores the rows, so callers can skip forming them (conv patches).
  virtual bool uses_rows() const { return true; }
  // Inverse or eigenbasis computations so far (Kronecker blocks; 0 for the others).
  virtual int64_t refreshes() const { return 0; }
  // M⁻¹ D for layer gradients D [..., out, fan(+1)]; may return D itself, so never write to it.
  virtual torch::Tensor solve(const torch::Tensor& gradient) const = 0;
  // For dense stages, per sample s: ⟨u_s x̃_sᵀ, M⁻¹ (v_s x̃_sᵀ)⟩ with x̃ [B, fan(+1)] and
  // u, v [..., B, out] → [..., B], without forming per-sample gradients (DDPNOpt's value
  // recursion). Leading dimensions of u and v evaluate several forms at the cost of one.
  virtual torch::Tensor sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                                    const torch::Tensor& v) const = 0;
  // State for exact resume, under keys starting with `prefix`.
  virtual void save(torch::serialize::OutputArchive& archive, const std::string& prefix) const = 0;
  virtual void load(torch::serialize::InputArchive& archive, const std::string& prefix) = 0;
};

}  // namespace octrain::methods
