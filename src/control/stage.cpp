#include "octrain/control/stage.h"

#include <fmt/format.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/utils.h>

namespace octrain::control {

std::string to_string(StageKind kind) {
  switch (kind) {
    case StageKind::kDense:
      return "Dense";
    case StageKind::kConv2d:
      return "Conv2d";
    case StageKind::kResidual:
      return "Residual";
    case StageKind::kBatchNorm:
      return "BatchNorm";
    case StageKind::kActivation:
      return "Activation";
    case StageKind::kPool:
      return "Pool";
    case StageKind::kFlatten:
      return "Flatten";
    case StageKind::kTile:
      return "Tile";
    case StageKind::kGroupSum:
      return "GroupSum";
  }
  return "?";
}

std::string to_string(ControlSet set) {
  switch (set) {
    case ControlSet::kReal:
      return "real";
    case ControlSet::kBinary:
      return "binary";
    case ControlSet::kTernary:
      return "ternary";
  }
  return "?";
}

std::string to_string(const Shape& shape) {
  return fmt::format("[{}]", fmt::join(shape, "×"));
}

LocalGraph record_local_graph(Stage& stage, const torch::Tensor& x) {
  torch::AutoGradMode enable(true);
  LocalGraph graph;
  graph.input = x.detach().requires_grad_(true);
  graph.output = stage.forward(graph.input);
  return graph;
}

StageVjp autograd_vjp(Stage& stage, const LocalGraph& graph, const torch::Tensor& p_next,
                      bool need_costate) {
  std::vector<torch::Tensor> inputs;
  if (need_costate) inputs.push_back(graph.input);
  const auto controls = stage.controls();
  inputs.insert(inputs.end(), controls.begin(), controls.end());
  StageVjp out;
  if (inputs.empty()) return out;
  auto grads = torch::autograd::grad({graph.output}, inputs, {p_next}, /*retain_graph=*/false,
                                     /*create_graph=*/false, /*allow_unused=*/true);
  size_t k = 0;
  if (need_costate) out.costate = grads[k++];
  for (size_t i = 0; i < controls.size(); ++i, ++k) {
    out.control_grads.push_back(grads[k].defined() ? grads[k] : torch::zeros_like(controls[i]));
  }
  if (need_costate && !out.costate.defined()) out.costate = torch::zeros_like(graph.input);
  return out;
}

StageVjp Stage::vjp(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& p_next,
                    bool need_costate, const LocalGraph* graph) {
  if (graph && graph->output.defined()) return autograd_vjp(*this, *graph, p_next, need_costate);
  return autograd_vjp(*this, record_local_graph(*this, x), p_next, need_costate);
}

torch::Tensor Stage::per_sample_control_gradients(const torch::Tensor& x, const torch::Tensor& v) {
  const auto controls = this->controls();
  const auto graph = record_local_graph(*this, x);
  std::vector<torch::Tensor> rows;
  for (int64_t s = 0; s < x.size(0); ++s) {
    auto masked = torch::zeros_like(v);
    masked.select(0, s).copy_(v.select(0, s));
    const auto grads = torch::autograd::grad({graph.output}, controls, {masked},
                                             /*retain_graph=*/true, false, /*allow_unused=*/true);
    std::vector<torch::Tensor> flat;
    for (size_t i = 0; i < controls.size(); ++i)
      flat.push_back(grads[i].defined() ? grads[i].reshape({-1})
                                        : torch::zeros({controls[i].numel()}, v.options()));
    rows.push_back(torch::cat(flat));
  }
  return torch::stack(rows);
}

torch::Tensor Stage::running_cost_tensor() {
  if (running_cost_.l2 == 0.0 && running_cost_.l1 == 0.0) return {};
  torch::NoGradGuard no_grad;
  torch::Tensor total;
  const auto add = [&total](torch::Tensor term) { total = total.defined() ? total + term : term; };
  for (const auto& theta : controls()) {
    if (running_cost_.l2 != 0.0)
      add(0.5 * running_cost_.l2 * theta.pow(2).sum().to(torch::kDouble));
    if (running_cost_.l1 != 0.0) add(running_cost_.l1 * theta.abs().sum().to(torch::kDouble));
  }
  return total;
}

double Stage::running_cost() {
  const auto total = running_cost_tensor();
  return total.defined() ? total.item<double>() : 0.0;
}

std::vector<torch::Tensor> Stage::running_cost_gradients() {
  std::vector<torch::Tensor> out;
  if (running_cost_.l2 == 0.0 && running_cost_.l1 == 0.0) return out;
  torch::NoGradGuard no_grad;
  for (const auto& theta : controls()) {
    torch::Tensor g;
    if (running_cost_.l2 != 0.0) g = running_cost_.l2 * theta;
    if (running_cost_.l1 != 0.0) {
      auto s = running_cost_.l1 * theta.sign();
      g = g.defined() ? g + s : s;
    }
    out.push_back(g);
  }
  return out;
}

int64_t Stage::num_controls() {
  int64_t n = 0;
  for (const auto& theta : controls()) n += theta.numel();
  return n;
}

}  // namespace octrain::control
