#include "octrain/methods/update_transforms.h"

#include <cmath>

#include "octrain/control/stage.h"
#include "octrain/methods/elementwise_curvature.h"
#include "octrain/methods/stage_curvature.h"

namespace octrain::methods {

torch::Tensor clip_step(const torch::Tensor& step, double clip) {
  return clip == 1.0 ? step : step * clip;
}

torch::Tensor heavy_ball(torch::Tensor& velocity, const torch::Tensor& step, double momentum) {
  if (momentum == 0) return step;
  if (!velocity.defined()) velocity = torch::zeros_like(step);
  return velocity.mul_(momentum).add_(step);
}

torch::Tensor adam_update(const DiagonalCurvature& curvature, torch::Tensor& moment,
                          const torch::Tensor& direction, double beta1, int64_t t, double lr) {
  // The bias correction and −η in the kernel's one scale, as torch::optim::Adam's step_size.
  const double step_size = lr / (1.0 - std::pow(beta1, double(t)));
  return curvature.preconditioned_moment(moment, direction, beta1, -step_size);
}

torch::Tensor scale_by_learning_rate(const torch::Tensor& step, double lr) {
  return step * -lr;
}

void apply_update(control::Stage& stage, const torch::Tensor& update) {
  const auto pieces = from_layer_matrix(stage, update);
  auto controls = stage.controls();
  for (size_t i = 0; i < controls.size(); ++i) controls[i].add_(pieces[i]);
}

MomentumUpdate momentum_update(const torch::Tensor& direction, double clip, torch::Tensor& velocity,
                               double momentum, double lr) {
  MomentumUpdate out;
  out.step = heavy_ball(velocity, clip_step(direction, clip), momentum);
  out.update = scale_by_learning_rate(out.step, lr);
  return out;
}

}  // namespace octrain::methods
