#pragma once

#include <torch/types.h>

namespace octrain::control {
class LinearLayer;
class Stage;
}  // namespace octrain::control

namespace octrain::methods {

// The linear maps of a stage's real affine layer h = g(x, θ) (control::LinearLayer: a dense or
// conv2d stage, or the inner layer of a residual stage) that DDPNOpt's value recursion and the
// Kronecker curvatures compose (docs/methods/ddpnopt.md), without autograd. Layer matrices are
// [out, fan(+1)] as in stage_curvature.h. Every function throws UsageError naming the stage when
// it has no such layer.

// The stage's layer (UsageError otherwise).
control::LinearLayer& require_linear_layer(control::Stage& stage);
// How the stage's output y responds to its layer's output h at x:
//   δy = (skip ? δx : 0) + slope ⊙ δh
// (dense/conv2d: y = h; residual y = x + δ·σ(h): skip, slope δ·σ'(h), h recomputed from x).
struct LayerCoupling {
  bool skip = false;
  torch::Tensor slope;  // like h; undefined means 1
  // A cotangent or second-order factor at y → its part at h: slope ⊙ v.
  torch::Tensor to_layer(const torch::Tensor& v) const { return slope.defined() ? v * slope : v; }
};
LayerCoupling layer_coupling(control::Stage& stage, const torch::Tensor& x);

// g(x; θ = matrix) = g_u·matrix: the stage's pre-activation with the controls replaced by
// `matrix`, e.g. the change Δh a control step Δθ makes.
torch::Tensor layer_apply(control::Stage& stage, const torch::Tensor& x,
                          const torch::Tensor& matrix);
// g_x δx = W δx (conv: W ⋆ δx) at the stage's own weights.
torch::Tensor layer_state_jvp(control::Stage& stage, const torch::Tensor& delta_x);
// g_xᵀ v at the stage's own weights: the state VJP (x gives the input shape).
torch::Tensor layer_state_vjp(control::Stage& stage, const torch::Tensor& x,
                              const torch::Tensor& v);
// diag(g_xᵀ diag(e) g_x) per sample: the state VJP with the weights squared, which carries a
// diagonal Hessian term e at the output to the diagonal of its image at the input.
torch::Tensor layer_state_diagonal_vjp(control::Stage& stage, const torch::Tensor& x,
                                       const torch::Tensor& e);
// g_uᵀ v summed over the batch (and positions): Σ_s v_s x̃_sᵀ as a layer matrix.
torch::Tensor layer_control_vjp(control::Stage& stage, const torch::Tensor& x,
                                const torch::Tensor& v);
// The per-sample control VJPs g_uᵀ v_s, [B, out, fan(+1)].
torch::Tensor per_sample_control_vjp(control::Stage& stage, const torch::Tensor& x,
                                     const torch::Tensor& v);

}  // namespace octrain::methods
