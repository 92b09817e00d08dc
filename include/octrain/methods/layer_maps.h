#pragma once

#include <torch/types.h>

namespace octrain::control {
class Stage;
}

namespace octrain::methods {

// The linear maps of a real dense or conv2d stage h = g(x, θ) that DDPNOpt's value recursion
// composes (docs/methods/ddpnopt.md), without autograd. Layer matrices are [out, fan(+1)] as in
// stage_curvature.h.

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
