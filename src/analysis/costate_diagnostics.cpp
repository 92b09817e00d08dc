// Per-stage co-state diagnostics: the co-states p_t and Hamiltonians H_t of the discrete PMP
// ([EMSA] §2, [REVIEW] §3; docs/methods/meanfield.md) read as a picture of gradient flow across
// depth.
#include "octrain/analysis/costate_diagnostics.h"

#include <torch/utils.h>

#include <cmath>

namespace octrain::analysis {

CostateDiagnostics::CostateDiagnostics(control::Network& network, const control::TerminalLoss& loss,
                                       const torch::Tensor& x, const torch::Tensor& y) {
  std::vector<torch::Tensor> buffers;
  for (const auto& b : network.buffers()) buffers.push_back(b.detach().clone());

  auto trajectory = network.rollout(x);
  network.sweep(trajectory, loss, y, /*need_initial_costate=*/true);
  for (const auto& p : trajectory.costates) costate_norm.push_back(p.norm().item<double>());
  for (size_t t = 0; t < network.size(); ++t)
    hamiltonian.push_back(
        (trajectory.costates[t + 1] * trajectory.states[t + 1]).sum().item<double>() -
        network.stage(t).running_cost());

  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& b : network.buffers()) b.copy_(buffers[i++]);
  for (size_t t = 0; t < network.size(); ++t) {
    controls_before_.emplace_back();
    for (const auto& theta : network.stage(t).controls())
      controls_before_.back().push_back(theta.detach().clone());
  }
}

void CostateDiagnostics::measure_update(control::Network& network) {
  torch::NoGradGuard no_grad;
  update_norm.clear();
  for (size_t t = 0; t < network.size(); ++t) {
    const auto controls = network.stage(t).controls();
    double squared = 0.0;
    for (size_t k = 0; k < controls.size(); ++k)
      squared += (controls[k] - controls_before_[t][k]).pow(2).sum().item<double>();
    update_norm.push_back(std::sqrt(squared));
  }
}

}  // namespace octrain::analysis
