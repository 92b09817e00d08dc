#include "octrain/methods/method.h"

#include "octrain/control/network.h"
#include "octrain/control/trajectory.h"

namespace octrain::methods {

double batch_accuracy(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                      const torch::Tensor& y) {
  if (!loss.classification()) return std::numeric_limits<double>::quiet_NaN();
  torch::NoGradGuard no_grad;
  return loss.predict_class(x_T).eq(y).to(torch::kFloat64).mean().item<double>();
}

StepStats sweep_batch(control::Network& network, const control::TerminalLoss& loss,
                      const torch::Tensor& x, const torch::Tensor& y,
                      control::Trajectory& trajectory, bool need_initial_costate) {
  trajectory = network.rollout(x);
  network.sweep(trajectory, loss, y, need_initial_costate);
  StepStats stats;
  stats.loss = trajectory.terminal_loss.item<double>();
  stats.objective = stats.loss + trajectory.running_cost;
  stats.accuracy = batch_accuracy(loss, trajectory.output(), y);
  return stats;
}

void reduce_hamiltonian_gradients(const dist::BatchReducer& batch,
                                  control::Trajectory& trajectory) {
  if (!batch.distributed()) return;
  std::vector<torch::Tensor> all;
  for (auto& stage : trajectory.hamiltonian_gradients)
    for (auto& dH : stage)
      if (dH.defined()) all.push_back(dH);
  batch.mean(all);
}

StagesByControlSet stages_by_control_set(control::Network& network) {
  StagesByControlSet out;
  for (size_t t = 0; t < network.size(); ++t) {
    auto& stage = network.stage(t);
    if (!stage.trainable()) continue;
    if (stage.control_set() != control::ControlSet::kReal) {
      out.discrete.push_back(t);
      continue;
    }
    out.real.push_back(t);
    const auto controls = stage.controls();
    out.real_controls.insert(out.real_controls.end(), controls.begin(), controls.end());
  }
  return out;
}

void store_loss_gradients(control::Network& network, control::Trajectory& trajectory,
                          const std::vector<size_t>& stages) {
  torch::NoGradGuard no_grad;
  for (size_t t : stages) {
    auto controls = network.stage(t).controls();
    auto& dH = trajectory.hamiltonian_gradients[t];
    for (size_t i = 0; i < controls.size(); ++i) controls[i].mutable_grad() = dH[i].neg_();
  }
}

}  // namespace octrain::methods
