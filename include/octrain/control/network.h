#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include "octrain/control/stage.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/control/trajectory.h"

namespace octrain::control {

// A network as a controlled dynamical system: an ordered list of stages.
class Network : public torch::nn::Module {
 public:
  explicit Network(Shape input_shape);

  // Appends a stage; its input shape must match the current output shape.
  void append(std::shared_ptr<Stage> stage);
  size_t size() const { return stages_.size(); }
  Stage& stage(size_t t) { return *stages_.at(t); }
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const { return output_shape_; }
  // The input shape of stage t.
  const Shape& stage_input_shape(size_t t) const { return shapes_.at(t); }

  // Forward sweep. With `record_graphs`, stages without a closed-form VJP keep their local
  // autograd graph for the sweep; without it, the rollout runs without autograd.
  Trajectory rollout(const torch::Tensor& x0, bool record_graphs = true);

  // Backward sweep: terminal loss, co-states and ∂(Σ_s H_t)/∂θ_t for every stage. p_0 is computed
  // only when `need_initial_costate` (it costs a product with the first layer).
  void sweep(Trajectory& trajectory, const TerminalLoss& loss, const torch::Tensor& y,
             bool need_initial_costate = false);

  // x_T without autograd, in the current train/eval mode.
  torch::Tensor predict(const torch::Tensor& x0);

  std::vector<torch::Tensor> controls();
  int64_t num_controls();
  void set_running_cost(RunningCost cost);
  double running_cost();
  // Multi-line table: index, stage, output shape, control count.
  std::string summary();

 private:
  Shape input_shape_, output_shape_;
  std::vector<Shape> shapes_;  // input shape of each stage
  std::vector<std::shared_ptr<Stage>> stages_;
};

}  // namespace octrain::control
