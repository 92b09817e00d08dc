#pragma once

#include <cstdint>

// The element-wise optimiser updates as single passes over raw arrays of n contiguous elements,
// for float and double (instantiated for those two only). Each kernel follows the order of
// operations of torch::optim's tensor ops (the comments give them), so the two agree to rounding,
// and needs no libtorch: its source is compiled without math errno and with an AVX2 clone so that
// the loops vectorise. Each gradient element is multiplied by `grad_scale` first (−1 turns ∂H/∂θ
// into ∂J/∂θ exactly). The pointers must not alias one another.
namespace octrain::methods::kernels {

// torch::optim::Adam without weight decay: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
// v_max ← max(v_max, v) (AMSGrad, when max_exp_avg_sq is given, else null),
// θ ← θ − step_size·m / (√v / √c₂ + ε) with step_size = lr/(1 − β₁ᵗ) and c₂ = 1 − β₂ᵗ.
struct AdamCoefficients {
  double beta1, beta2, eps;
  double step_size;         // lr / (1 − β₁ᵗ)
  double sqrt_correction2;  // √(1 − β₂ᵗ)
};
template <typename T>  // float or double
void adam(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,
          double grad_scale, const AdamCoefficients& c);

// torch::optim::SGD without weight decay. momentum 0: θ ← θ − lr·g (buffer unused, may be null).
// Otherwise b ← g on the first step, else b ← μb + (1−dampening)g; then θ ← θ − lr·d with
// d = g + μb (Nesterov) or d = b.
struct SgdCoefficients {
  double lr, momentum, dampening;
  bool nesterov, first_step;
};
template <typename T>  // float or double
void sgd(T* param, const T* grad, T* momentum_buffer, int64_t n, double grad_scale,
         const SgdCoefficients& c);

// torch::optim::Adagrad without weight decay: s ← s + g², θ ← θ − clr·g / (√s + ε) with
// clr = lr / (1 + (t − 1)·lr_decay).
template <typename T>  // float or double
void adagrad(T* param, const T* grad, T* sum, int64_t n, double grad_scale, double clr, double eps);

// torch::optim::RMSprop without weight decay: s ← αs + (1−α)g²; centered (grad_avg given):
// a ← αa + (1−α)g, r = √(s − a²) + ε, else r = √s + ε; with momentum (buffer given):
// b ← μb + g/r, θ ← θ − lr·b, else θ ← θ − lr·g/r.
struct RmspropCoefficients {
  double lr, alpha, eps, momentum;
};
template <typename T>  // float or double
void rmsprop(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer, int64_t n,
             double grad_scale, const RmspropCoefficients& c);

// DDPNOpt's diagonal curvature (curvature=diag/adam): v ← β₂v + (1−β₂)g², then the
// denominator M = √v / √c₂ + ε (√c₂ = 1: RMSprop's √v + ε), as Adam's above.
template <typename T>  // float or double
void diagonal_curvature(T* second_moment, const T* grad, T* denominator, int64_t n, double beta2,
                        double sqrt_correction2, double eps);

// Adam's first moment and its preconditioned step on a given denominator M:
// m ← β₁m + (1−β₁)d, step = (m / M)·scale.
template <typename T>  // float or double
void preconditioned_moment(T* moment, const T* direction, const T* denominator, T* step, int64_t n,
                           double beta1, double scale);

}  // namespace octrain::methods::kernels
