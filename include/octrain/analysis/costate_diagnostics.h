#pragma once

#include <torch/types.h>

#include <vector>

#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"

namespace octrain::analysis {

// Per-stage figures of one training step in co-state language ([REVIEW];
// docs/methods/meanfield.md): how large the co-states p_t are across depth (vanishing/exploding
// gradients), how far each stage's controls moved, and each stage's Hamiltonian. Method-agnostic:
// it runs its own rollout and sweep before the method's step and compares the controls after it.
class CostateDiagnostics {
 public:
  // Rolls out and sweeps (x, y) at the current controls and snapshots them. Buffers such as
  // batch-norm running statistics are restored, so the training run's numbers do not change.
  CostateDiagnostics(control::Network& network, const control::TerminalLoss& loss,
                     const torch::Tensor& x, const torch::Tensor& y);
  // After the method's step: ‖θ_t after − θ_t before‖ per stage.
  void measure_update(control::Network& network);

  std::vector<double> costate_norm;  // ‖p_t‖ (Frobenius over the batch), t = 0 … T
  std::vector<double> hamiltonian;   // Σ_s p_{t+1}·f_t(x_t, θ_t) − L_t(θ_t), t = 0 … T−1
  std::vector<double> update_norm;   // t = 0 … T−1; 0 for stages without controls

 private:
  std::vector<std::vector<torch::Tensor>> controls_before_;
};

}  // namespace octrain::analysis
