#include "octrain/control/network.h"

#include <fmt/format.h>
#include <torch/utils.h>

#include "octrain/util/error.h"

namespace octrain::control {

Network::Network(Shape input_shape)
    : torch::nn::Module("Network"),
      input_shape_(input_shape),
      output_shape_(std::move(input_shape)) {}

void Network::append(std::shared_ptr<Stage> stage) {
  Shape out;
  try {
    out = stage->output_shape(output_shape_);
  } catch (const UsageError& e) {
    throw UsageError(fmt::format("stage {}: {}", stages_.size(), e.what()));
  }
  register_module(std::to_string(stages_.size()), stage);
  shapes_.push_back(output_shape_);
  output_shape_ = out;
  stages_.push_back(std::move(stage));
}

Trajectory Network::rollout(const torch::Tensor& x0, bool record_graphs) {
  Trajectory trajectory;
  trajectory.states.reserve(stages_.size() + 1);
  trajectory.graphs.resize(stages_.size());
  trajectory.states.push_back(x0);
  torch::NoGradGuard no_grad;
  for (size_t t = 0; t < stages_.size(); ++t) {
    Stage& f = *stages_[t];
    const auto& x = trajectory.states.back();
    if (record_graphs && !f.has_closed_form_vjp()) {
      auto& graph = trajectory.graphs[t];
      graph = record_local_graph(f, x);
      trajectory.states.push_back(graph.output.detach());
    } else {
      trajectory.states.push_back(f.forward(x));
    }
  }
  return trajectory;
}

void Network::sweep(Trajectory& trajectory, const TerminalLoss& loss, const torch::Tensor& y,
                    bool need_initial_costate) {
  const size_t T = stages_.size();
  if (trajectory.num_stages() != T)
    throw std::logic_error("Network::sweep: trajectory does not belong to this network");
  torch::NoGradGuard no_grad;
  auto terminal = loss.evaluate(trajectory.output(), y, /*need_costate=*/true);
  trajectory.terminal_loss = terminal.value;
  trajectory.costates.assign(T + 1, torch::Tensor());
  trajectory.costates[T] = terminal.costate;
  trajectory.hamiltonian_gradients.assign(T, {});
  torch::Tensor running_cost;  // summed on the device, read once

  // Co-states below the first trainable stage are needed only on request.
  size_t first_trainable = T;
  for (size_t t = 0; t < T; ++t) {
    if (stages_[t]->trainable()) {
      first_trainable = t;
      break;
    }
  }
  for (size_t t = T; t-- > 0;) {
    Stage& f = *stages_[t];
    const bool need_costate = need_initial_costate || t > first_trainable;
    const LocalGraph* graph =
        trajectory.graphs[t].output.defined() ? &trajectory.graphs[t] : nullptr;
    StageVjp vjp = f.vjp(trajectory.states[t], trajectory.states[t + 1], trajectory.costates[t + 1],
                         need_costate, graph);
    trajectory.graphs[t] = LocalGraph();  // free the graph as soon as it is used
    trajectory.costates[t] = vjp.costate;
    auto cost_gradients = f.running_cost_gradients();
    for (size_t i = 0; i < cost_gradients.size(); ++i) {
      if (cost_gradients[i].defined())
        vjp.control_grads[i] = vjp.control_grads[i] - cost_gradients[i];
    }
    trajectory.hamiltonian_gradients[t] = std::move(vjp.control_grads);
    if (auto cost = f.running_cost_tensor(); cost.defined())
      running_cost = running_cost.defined() ? running_cost + cost : cost;
  }
  trajectory.running_cost = running_cost.defined() ? running_cost.item<double>() : 0.0;
}

torch::Tensor Network::predict(const torch::Tensor& x0) {
  torch::NoGradGuard no_grad;
  torch::Tensor x = x0;
  for (auto& f : stages_) x = f->forward(x);
  return x;
}

std::vector<torch::Tensor> Network::controls() {
  std::vector<torch::Tensor> out;
  for (auto& f : stages_) {
    auto c = f->controls();
    out.insert(out.end(), c.begin(), c.end());
  }
  return out;
}

int64_t Network::num_controls() {
  int64_t n = 0;
  for (auto& f : stages_) n += f->num_controls();
  return n;
}

void Network::set_running_cost(RunningCost cost) {
  for (auto& f : stages_) f->set_running_cost(cost);
}

double Network::running_cost() {
  torch::Tensor total;
  for (auto& f : stages_)
    if (auto cost = f->running_cost_tensor(); cost.defined())
      total = total.defined() ? total + cost : cost;
  return total.defined() ? total.item<double>() : 0.0;
}

std::string Network::summary() {
  std::string out =
      fmt::format("{:>3}  {:<44} {:<14} {:>10}\n", "t", "stage", "output", "controls");
  out += fmt::format("{:>3}  {:<44} {:<14} {:>10}\n", "", "input", to_string(input_shape_), "");
  for (size_t t = 0; t < stages_.size(); ++t) {
    const Shape& out_shape = t + 1 < shapes_.size() ? shapes_[t + 1] : output_shape_;
    out += fmt::format("{:>3}  {:<44} {:<14} {:>10}\n", t, stages_[t]->describe(),
                       to_string(out_shape), stages_[t]->num_controls());
  }
  out += fmt::format("total controls: {}\n", num_controls());
  return out;
}

}  // namespace octrain::control
