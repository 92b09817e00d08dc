#pragma once

#include <torch/types.h>

#include <memory>
#include <vector>

#include "octrain/control/activation.h"
#include "octrain/methods/augmented_hamiltonian.h"

namespace octrain::control {
class Stage;
}

namespace octrain::methods {

// F_t of AugmentedHamiltonian in closed form, on a flat θ = (W, b), for the small dense stages
// where tensor-op and autograd overhead, not arithmetic, dominates an evaluation (the E-MSA
// toy's 5×5 residual stages: ~0.4 ms through autograd, microseconds here). Covers
//   f = W x + b                  (Dense)
//   f = x + δ σ(W x + b)         (Residual with a Dense inner stage)
// with z = W x + b, g = σ'(z) ⊙ p_{t+1}, ∇_x H = s·p_{t+1} + δ Wᵀ g (s = 1 for the skip):
//   ∂F/∂z = δ σ'(z) ⊙ (−p_{t+1} − ρ e_x) − ρ_p δ σ''(z) ⊙ p_{t+1} ⊙ (W e_p)
//   ∂F/∂W = Σ_s (∂F/∂z) xᵀ − ρ_p δ Σ_s g e_pᵀ,   ∂F/∂b = Σ_s ∂F/∂z
// where e_x = x_{t+1} − f and e_p = p_t − ∇_x H. Tested against the autograd version.
class DenseAugmentedHamiltonian {
 public:
  // Null when `stage` is not one of the two forms or is too large to gain from this path.
  static std::unique_ptr<DenseAugmentedHamiltonian> make(
      control::Stage& stage, const torch::Tensor& x, const torch::Tensor& x_next,
      const torch::Tensor& p, const torch::Tensor& p_next, FeasibilityPenalty penalty);
  static std::unique_ptr<DenseAugmentedHamiltonian> make(control::Stage& stage,
                                                         const torch::Tensor& x,
                                                         const torch::Tensor& x_next,
                                                         const torch::Tensor& p,
                                                         const torch::Tensor& p_next, double rho) {
    return make(stage, x, x_next, p, p_next, FeasibilityPenalty{rho, rho});
  }
  // Products of W (or Wᵀ) with a batch of vectors in one evaluation with its gradient: Wx, Wᵀg,
  // ∂F/∂W's (∂F/∂z) xᵀ, and with a co-state penalty also W e_p and g e_pᵀ.
  int products_per_evaluation() const { return rho_costate_ > 0.0 ? 5 : 3; }

  // F_t(θ) for θ = (W row-major, b); fills ∂F_t/∂θ when `gradient` is set.
  double evaluate(const std::vector<double>& theta, std::vector<double>* gradient,
                  FeasibilityResiduals* residuals = nullptr) const;

 private:
  DenseAugmentedHamiltonian() = default;

  int64_t samples_ = 0, in_ = 0, out_ = 0;
  bool has_bias_ = true, skip_ = false;
  double delta_ = 1.0, rho_ = 0.0, rho_costate_ = 0.0, l2_ = 0.0, l1_ = 0.0;
  control::Activation activation_ = control::Activation::kIdentity;
  std::vector<double> x_, x_next_, p_, p_next_;  // row-major [samples × features]
};

}  // namespace octrain::methods
