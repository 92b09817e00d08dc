#pragma once

#include <torch/types.h>

#include <utility>
#include <vector>

namespace octrain::control {
class Stage;
}

namespace octrain::methods {

// Feasibility residuals of a stage at its current controls θ (docs/methods/msa.md):
// how far the frozen trajectory is from satisfying the new dynamics and co-state equations.
struct FeasibilityResiduals {
  double state = 0.0;    // Σ_s ‖x_{s,t+1} − f_t(x_{s,t}; θ)‖²
  double costate = 0.0;  // Σ_s ‖p_{s,t} − ∇_x H_t(x_{s,t}, p_{s,t+1}, θ)‖²
};

// The weights of F_t's two feasibility terms below: ρ for both in [EMSA]. The co-state one may be
// 0 at a stage whose input is data (no trainable stage before it): there δx_t = 0, so the
// co-state gap does not enter the error estimate the penalty comes from.
struct FeasibilityPenalty {
  double state = 0.0, costate = 0.0;
};

// The per-stage objective of [EMSA] with x_t, x_{t+1}, p_t, p_{t+1} frozen from the sweeps:
//   F_t(θ) = −Σ_s p_{s,t+1}·f_t(x_{s,t}; θ) + L_t(θ)
//            + ρ/2 Σ_s ‖x_{s,t+1} − f_t(x_{s,t}; θ)‖² + ρ_p/2 Σ_s ‖p_{s,t} − ∇_x[p_{s,t+1}·f_t]‖²
// (ρ_p = ρ unless a FeasibilityPenalty says otherwise).
// With ρ = 0 it is −Σ_s H_t, the objective of basic MSA. The last term differentiates a
// gradient (double backward), so it works for every stage whose forward is twice
// differentiable by autograd. F_t is evaluated at the stage's current controls.
class AugmentedHamiltonian {
 public:
  AugmentedHamiltonian(control::Stage& stage, torch::Tensor x, torch::Tensor x_next,
                       torch::Tensor p, torch::Tensor p_next, FeasibilityPenalty penalty);
  AugmentedHamiltonian(control::Stage& stage, torch::Tensor x, torch::Tensor x_next,
                       torch::Tensor p, torch::Tensor p_next, double rho)
      : AugmentedHamiltonian(stage, std::move(x), std::move(x_next), std::move(p),
                             std::move(p_next), FeasibilityPenalty{rho, rho}) {}

  // F_t(θ); fills ∂F_t/∂θ (one per control) when `gradients` is set, and the residuals when
  // `residuals` is set.
  double evaluate(std::vector<torch::Tensor>* gradients,
                  FeasibilityResiduals* residuals = nullptr) const;

 private:
  control::Stage& stage_;
  torch::Tensor x_, x_next_, p_, p_next_;
  FeasibilityPenalty penalty_;
};

}  // namespace octrain::methods
