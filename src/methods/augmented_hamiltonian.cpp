#include "octrain/methods/augmented_hamiltonian.h"

#include <torch/autograd.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/utils.h>

#include "octrain/control/stage.h"

namespace octrain::methods {

AugmentedHamiltonian::AugmentedHamiltonian(control::Stage& stage, torch::Tensor x,
                                           torch::Tensor x_next, torch::Tensor p,
                                           torch::Tensor p_next, FeasibilityPenalty penalty)
    : stage_(stage),
      x_(std::move(x)),
      x_next_(std::move(x_next)),
      p_(std::move(p)),
      p_next_(std::move(p_next)),
      penalty_(penalty) {}

double AugmentedHamiltonian::evaluate(std::vector<torch::Tensor>* gradients,
                                      FeasibilityResiduals* residuals) const {
  torch::AutoGradMode enable(true);
  const double rho = penalty_.state, rho_p = penalty_.costate;
  const bool need_costate_term = rho_p > 0.0 || residuals;
  const torch::Tensor x = need_costate_term ? x_.detach().requires_grad_(true) : x_;
  const torch::Tensor f = stage_.forward(x);
  const torch::Tensor hamiltonian = (p_next_ * f).sum();  // Σ_s p_{t+1}·f_t
  torch::Tensor objective = -hamiltonian;
  torch::Tensor state_term, costate_term;
  if (rho > 0.0 || residuals) state_term = (x_next_ - f).square().sum();
  if (need_costate_term) {
    const torch::Tensor grad_x = torch::autograd::grad({hamiltonian}, {x}, {},
                                                       /*retain_graph=*/true,
                                                       /*create_graph=*/rho_p > 0.0)[0];
    costate_term = (p_ - grad_x).square().sum();
  }
  if (residuals) {
    residuals->state = state_term.item<double>();
    residuals->costate = costate_term.item<double>();
  }
  if (rho > 0.0 && rho_p == rho) {
    objective = objective + (0.5 * rho) * (state_term + costate_term);
  } else {
    if (rho > 0.0) objective = objective + (0.5 * rho) * state_term;
    if (rho_p > 0.0) objective = objective + (0.5 * rho_p) * costate_term;
  }
  const auto cost = stage_.running_cost_tensor();  // one host read for both terms
  double value = cost.defined() ? (objective.detach().to(torch::kDouble) + cost).item<double>()
                                : objective.item<double>();
  if (gradients) {
    const auto controls = stage_.controls();
    *gradients = torch::autograd::grad({objective}, controls, {}, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);
    const auto cost_gradients = stage_.running_cost_gradients();
    for (size_t i = 0; i < controls.size(); ++i) {
      auto& g = (*gradients)[i];
      if (!g.defined()) g = torch::zeros_like(controls[i]);
      if (i < cost_gradients.size() && cost_gradients[i].defined()) g = g + cost_gradients[i];
    }
  }
  return value;
}

}  // namespace octrain::methods
