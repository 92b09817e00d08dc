#include "octrain/methods/method.h"

#include "octrain/control/network.h"

namespace octrain::methods {

double batch_accuracy(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                      const torch::Tensor& y) {
  if (!loss.classification()) return std::numeric_limits<double>::quiet_NaN();
  torch::NoGradGuard no_grad;
  return loss.predict_class(x_T).eq(y).to(torch::kFloat64).mean().item<double>();
}

StepStats trajectory_stats(control::Network& network, const control::TerminalLoss& loss,
                           const control::Trajectory& trajectory, const torch::Tensor& y) {
  StepStats stats;
  stats.loss = trajectory.terminal_loss.item<double>();
  stats.objective = stats.loss + trajectory.running_cost;
  stats.accuracy = batch_accuracy(loss, trajectory.output(), y);
  return stats;
}

}  // namespace octrain::methods
