#pragma once

#include <torch/types.h>

namespace octrain::control {
class Stage;
}

namespace octrain::methods {

class DiagonalCurvature;

// One stage's update as a chain of small transforms on its layer-gradient matrix (optax's
// chain, in plain C++), shared by kfac/ekfac and DDPNOpt so that each rule is written once
// (docs/methods/baselines.md, docs/methods/ddpnopt.md):
//
//   s = M⁻¹g                  precondition: StageCurvature::solve (DDPNOpt: of Q̄_u + feedback)
//   s ← c·s                   KL clip, c from Σ_t⟨M_t⁻¹g_t, g_t⟩ (Ba, Grosse & Martens 2017;
//                             kl_clip.h)
//   v ← μv + s,  s ← v        heavy-ball momentum (Polyak 1964), or instead
//   m ← β₁m + (1 − β₁)d,      Adam's moment on its diagonal M = √v̂ + ε (Kingma & Ba 2015,
//   s = M⁻¹m / (1 − β₁ᵗ)      Algorithm 1), fused with the −η scale below into one pass
//   u = −η·s                  scale by −η
//   θ ← θ + u                 apply, u split back into the stage's controls
//
// A transform never writes to its input (solve() may return the gradient itself); it returns
// a new tensor, its input unchanged, or its state buffer. u is formed before it is added, so
// each element of θ sees the same two roundings, θ + (−η·s), as in the fused optimisers'
// kernels (elementwise_kernels.h).
//
// The gradient methods (gradient_method.h) do not run through these: their fused optimisers
// update θ and every moment in one pass per parameter, where this chain is one pass per
// transform, and they keep torch::optim's own rules (dampening, Nesterov, the first step's
// buffer copy, AMSGrad). What they share with DDPNOpt is the diagonal curvature and Adam's
// moment, computed by the same kernels.

// c·s (s itself when c = 1, so an unclipped step costs nothing).
torch::Tensor clip_step(const torch::Tensor& step, double clip);

// v ← μv + s, returning v (the buffer); s itself when μ = 0, the buffer then untouched. An
// undefined buffer starts at zero, so the first step is s.
torch::Tensor heavy_ball(torch::Tensor& velocity, const torch::Tensor& step, double momentum);

// Adam's update −η/(1 − β₁ᵗ)·M⁻¹m on `curvature`'s denominator M after m ← β₁m + (1 − β₁)d,
// `t` the step count (from 1); an undefined moment starts at zero.
torch::Tensor adam_update(const DiagonalCurvature& curvature, torch::Tensor& moment,
                          const torch::Tensor& direction, double beta1, int64_t t, double lr);

// u = −η·s.
torch::Tensor scale_by_learning_rate(const torch::Tensor& step, double lr);

// θ ← θ + u for the stage's controls, u a layer matrix (to_layer_matrix's layout).
void apply_update(control::Stage& stage, const torch::Tensor& update);

// The chain after the preconditioner for every curvature but Adam's: clip → heavy ball → −η.
struct MomentumUpdate {
  torch::Tensor step;    // s after momentum
  torch::Tensor update;  // u = −η·s
};
MomentumUpdate momentum_update(const torch::Tensor& direction, double clip, torch::Tensor& velocity,
                               double momentum, double lr);

}  // namespace octrain::methods
