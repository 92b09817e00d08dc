#include "octrain/methods/method.h"

#include <torch/utils.h>

#include "octrain/control/network.h"
#include "octrain/control/trajectory.h"
#include "octrain/methods/work_count.h"

namespace octrain::methods {

double batch_accuracy(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                      const torch::Tensor& y) {
  if (!loss.classification()) return std::numeric_limits<double>::quiet_NaN();
  torch::NoGradGuard no_grad;
  return loss.predict_class(x_T).eq(y).to(torch::kFloat64).mean().item<double>();
}

void StepStats::resolve() {
  if (pending.empty()) return;
  std::vector<torch::Tensor> values;
  for (const auto& item : pending) values.push_back(item.second.detach().to(torch::kDouble));
  const auto host = torch::stack(values).cpu();
  const double* v = host.data_ptr<double>();
  for (size_t i = 0; i < pending.size(); ++i) extras[pending[i].first] = v[i];
  pending.clear();
}

StepStats sweep_batch(control::Network& network, const control::TerminalLoss& loss,
                      const torch::Tensor& x, const torch::Tensor& y,
                      control::Trajectory& trajectory, bool need_initial_costate) {
  trajectory = network.rollout(x);
  network.sweep(trajectory, loss, y, need_initial_costate);
  count_flops(sweep_flops(network, x.size(0), need_initial_costate));
  StepStats stats;
  // Loss and accuracy in one device-to-host copy.
  torch::Tensor figures = trajectory.terminal_loss.detach().to(torch::kDouble).reshape({1});
  if (loss.classification()) {
    torch::NoGradGuard no_grad;
    const auto correct = loss.predict_class(trajectory.output()).eq(y).to(torch::kDouble).mean();
    figures = torch::cat({figures, correct.reshape({1})});
  }
  figures = figures.cpu();
  stats.loss = figures[0].item<double>();
  stats.objective = stats.loss + trajectory.running_cost;
  if (loss.classification()) stats.accuracy = figures[1].item<double>();
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
