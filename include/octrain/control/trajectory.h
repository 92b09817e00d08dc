#pragma once

#include <torch/types.h>

#include <vector>

#include "octrain/control/stage.h"

namespace octrain::control {

// States of one batch and, after the backward sweep, its co-states (docs/methods/README.md):
//   x_{t+1} = f_t(x_t, θ_t),   p_T = −(1/S)∇Φ(x_T, y),   p_t = (∂f_t/∂x)ᵀ p_{t+1},
//   ∂(Σ_s H_t)/∂θ_t = (∂f_t/∂θ)ᵀ p_{t+1} − ∂L_t/∂θ_t = −∂J/∂θ_t.
struct Trajectory {
  std::vector<torch::Tensor> states;  // x_0 … x_T
  std::vector<LocalGraph> graphs;     // per stage; empty where the stage has a closed-form VJP

  // Filled by Network::sweep.
  std::vector<torch::Tensor> costates;  // p_0 … p_T (p_0 only on request)
  std::vector<std::vector<torch::Tensor>> hamiltonian_gradients;  // per stage, per control
  torch::Tensor terminal_loss;                                    // scalar (1/S) Σ_s Φ
  double running_cost = 0.0;                                      // Σ_t L_t(θ_t)

  const torch::Tensor& output() const { return states.back(); }
  int64_t batch_size() const { return states.front().size(0); }
  size_t num_stages() const { return states.size() - 1; }
};

}  // namespace octrain::control
