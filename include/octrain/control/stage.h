#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "octrain/control/linear_layer.h"

namespace octrain::control {

// Where a stage's controls θ_t may live (docs/ARCHITECTURE.md). Dense and Conv2d stages may be
// Binary or Ternary (docs/methods/discrete-msa.md); every other stage is Real.
enum class ControlSet { kReal, kBinary, kTernary };

// What a stage is: a label for descriptions and the trainer. Methods query the capabilities
// below (linear_layer(), is_elementwise(), …) instead.
enum class StageKind {
  kDense,
  kConv2d,
  kResidual,
  kBatchNorm,
  kActivation,
  kPool,
  kFlatten,
  kTile,
  kGroupSum
};

std::string to_string(StageKind kind);
std::string to_string(ControlSet set);

using Shape = std::vector<int64_t>;  // per-sample shape, without the batch dimension
std::string to_string(const Shape& shape);

// Running cost L_t(θ) = l2/2·‖θ‖² + l1·‖θ‖₁ summed over the stage's controls.
struct RunningCost {
  double l2 = 0.0;
  double l1 = 0.0;
};

// A stage's local autograd graph, recorded during the rollout for stages without a closed-form
// vector-Jacobian product, so the sweep does not recompute their forward (nor, for batch norm,
// update running statistics twice).
struct LocalGraph {
  torch::Tensor input;   // detached x_t with requires_grad
  torch::Tensor output;  // f_t(input, θ_t) with its graph
};

// Vector-Jacobian products of f_t at (x_t, θ_t) with the co-state p_{t+1}.
struct StageVjp {
  torch::Tensor costate;  // (∂f_t/∂x)ᵀ p_{t+1}; undefined when not requested
  std::vector<torch::Tensor> control_grads;  // (∂f_t/∂θ)ᵀ p_{t+1}, one per control
};

// One layer as dynamics x_{t+1} = f_t(x_t, θ_t).
class Stage : public torch::nn::Module {
 public:
  explicit Stage(const std::string& name) : torch::nn::Module(name) {}

  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  virtual StageKind kind() const = 0;
  // One line: "Dense 256→10" etc.
  virtual std::string describe() const = 0;
  virtual Shape output_shape(const Shape& input) const = 0;

  // True when vjp() is a closed form that needs only x_t and x_{t+1}; otherwise the rollout
  // records a LocalGraph and the default vjp() differentiates it.
  virtual bool has_closed_form_vjp() const { return false; }
  // VJPs at x = x_t, y = x_{t+1} = f_t(x_t). `graph` is set iff !has_closed_form_vjp(); when it is
  // null for such a stage (a caller without a recorded rollout) the forward is rebuilt locally.
  virtual StageVjp vjp(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& p_next,
                       bool need_costate, const LocalGraph* graph);

  // Capabilities that methods query instead of concrete types (docs/ARCHITECTURE.md).
  // The real affine layer the controls act through (Dense, Conv2d: the stage; Residual: its
  // inner layer); null for other stages and for discrete control sets (α ⊙ W x is not affine in
  // a real W).
  virtual LinearLayer* linear_layer() { return nullptr; }
  // How y = f_t(x) is formed from linear_layer()'s output (meaningful only with a layer).
  virtual LayerForm layer_form() const { return {}; }
  // Element-wise stages (activations): σ'(x) and σ''(x) given x and y = σ(x); undefined
  // otherwise.
  virtual bool is_elementwise() const { return false; }
  virtual torch::Tensor elementwise_slope(const torch::Tensor& x, const torch::Tensor& y) const {
    return {};
  }
  virtual torch::Tensor elementwise_curvature(const torch::Tensor& x,
                                              const torch::Tensor& y) const {
    return {};
  }
  // True when f_t only reshapes its input (same values, new shape).
  virtual bool is_reshape() const { return false; }
  // Per-sample control gradients (∂⟨v_s, y_s⟩/∂θ) flattened and concatenated in controls()
  // order, [B, num_controls()], at x with the output cotangent v [B, …]. The default
  // differentiates a local graph once per sample; stages with a closed form override it.
  virtual torch::Tensor per_sample_control_gradients(const torch::Tensor& x,
                                                     const torch::Tensor& v);

  // Multiply-adds ×2 of one sample's forward at this input shape (0 for parameter-free maps).
  virtual double forward_flops(const Shape& input) const { return 0.0; }
  // The per-output scale α of a discrete stage (x_{t+1} = α ⊙ (W x_t)); null otherwise.
  virtual torch::Tensor* discrete_scale() { return nullptr; }

  // θ_t: the trainable tensors (parameters() by default, in registration order).
  virtual std::vector<torch::Tensor> controls() { return parameters(); }
  virtual ControlSet control_set() const { return ControlSet::kReal; }
  bool trainable() { return !controls().empty(); }

  void set_running_cost(RunningCost cost) { running_cost_ = cost; }
  const RunningCost& running_cost_weights() const { return running_cost_; }
  // L_t(θ_t) as a double (one host sync), as a 0-dim tensor on the controls' device (undefined
  // when L_t ≡ 0), and its gradient ∂L_t/∂θ (one per control; empty when L_t ≡ 0).
  double running_cost();
  torch::Tensor running_cost_tensor();
  std::vector<torch::Tensor> running_cost_gradients();

  int64_t num_controls();

 private:
  RunningCost running_cost_;
};

// Builds x's local graph through `stage` and returns the VJPs: the generic path every stage can
// use, exposed for tests and for stages whose closed form is only partial.
StageVjp autograd_vjp(Stage& stage, const LocalGraph& graph, const torch::Tensor& p_next,
                      bool need_costate);
LocalGraph record_local_graph(Stage& stage, const torch::Tensor& x);

}  // namespace octrain::control
