#include "octrain/methods/gradient_norm_penalty.h"

#include <torch/autograd.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/utils.h>

#include "octrain/control/network.h"
#include "octrain/control/trajectory.h"

namespace octrain::methods {

GradientNormPenalty gradient_norm_penalty(control::Network& network,
                                          const control::Trajectory& trajectory) {
  std::vector<size_t> layer_inputs;  // x_k: the inputs of the trainable stages
  for (size_t t = 0; t < network.size(); ++t)
    if (network.stage(t).trainable()) layer_inputs.push_back(t);
  auto controls = network.controls();
  GradientNormPenalty out;
  out.gradients.reserve(controls.size());
  if (layer_inputs.size() < 2) {
    for (const auto& u : controls) out.gradients.push_back(torch::zeros_like(u));
    return out;
  }
  torch::AutoGradMode enable(true);
  // Forward with autograd from the first layer, keeping every x_k as a graph node (the first, a
  // leaf, so that the first layer's Jacobian can be taken too).
  std::vector<torch::Tensor> states(network.size() + 1);
  const size_t first = layer_inputs.front(), last = layer_inputs.back();
  states[first] = trajectory.states[first].detach().requires_grad_(true);
  for (size_t t = first; t < last; ++t) states[t + 1] = network.stage(t).forward(states[t]);
  torch::Tensor omega;
  const double batch = double(trajectory.batch_size());
  for (size_t k = 0; k + 1 < layer_inputs.size(); ++k) {
    const auto& x_k = states[layer_inputs[k]];
    const auto& x_next = states[layer_inputs[k + 1]];
    const auto p = trajectory.costates[layer_inputs[k + 1]].detach();
    const auto carried = torch::autograd::grad({x_next}, {x_k}, {p}, true, true)[0];
    const auto p_norm = p.reshape({p.size(0), -1}).norm(2, 1);
    const auto kept = p_norm.gt(0);
    const auto ratio = carried.reshape({p.size(0), -1}).norm(2, 1) /
                       torch::where(kept, p_norm, torch::ones_like(p_norm));
    const auto term = ((ratio - 1).square() * kept).sum() / batch;
    omega = omega.defined() ? omega + term : term;
  }
  out.value = omega.item<double>();
  const auto grads = torch::autograd::grad({omega}, controls, {}, false, false, true);
  for (size_t i = 0; i < controls.size(); ++i)
    out.gradients.push_back(grads[i].defined() ? grads[i] : torch::zeros_like(controls[i]));
  return out;
}

}  // namespace octrain::methods
