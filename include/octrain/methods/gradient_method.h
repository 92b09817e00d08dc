#pragma once

#include <torch/optim/optimizer.h>

#include "octrain/methods/fused_optimizers.h"
#include "octrain/methods/method.h"

namespace octrain::methods {

// The torch::optim optimiser `name` (sgd, adagrad, rmsprop, adam) with options parsed from
// GradientMethod::schema_for(name), as its fused form (fused_optimizers.h: the same steps and
// state format, one pass per parameter) that is also a GradientStep; throws UsageError on
// inconsistent options.
std::unique_ptr<torch::optim::Optimizer> make_torch_optimizer(const std::string& name,
                                                              const OptionValues& options,
                                                              std::vector<torch::Tensor> params);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);
// An optimiser's state as the sub-archive `key` of a method's state.
void save_optimizer(torch::serialize::OutputArchive& archive, const std::string& key,
                    const torch::optim::Optimizer& optimizer);
void load_optimizer(torch::serialize::InputArchive& archive, const std::string& key,
                    torch::optim::Optimizer& optimizer);
// Reads tensor `key` into `into` (same shape, same device); DataError naming `owner` otherwise.
void load_state_tensor(torch::serialize::InputArchive& archive, const std::string& key,
                       torch::Tensor& into, const std::string& owner);

// The first-order baselines — SGD (momentum, Nesterov), Adagrad, RMSprop, Adam — run by
// torch::optim's fused forms on the sweep's gradients ∂J/∂θ_t = −∂(Σ_s H_t)/∂θ_t. Weight decay is
// the stages' running cost, so it is inside ∂H/∂θ and every method sees the same objective.
class GradientMethod : public Method {
 public:
  // `name` is one of sgd, adagrad, rmsprop, adam; `options` parsed from schema_for(name).
  GradientMethod(const std::string& name, OptionValues options, control::Network& network);
  static OptionSchema schema_for(const std::string& name);

  std::string name() const override { return name_; }
  StepStats step(control::Network& network, const control::TerminalLoss& loss,
                 const torch::Tensor& x, const torch::Tensor& y) override;
  void set_learning_rate_scale(double scale) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  std::string name_;
  std::vector<torch::Tensor> controls_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  GradientStep* gradient_step_;  // optimizer_ as a GradientStep
  double vgr_weight_;  // sgd's vgr: the weight of gradient_norm_penalty's Ω in the objective

  // Adds λ∂Ω/∂θ to the step's direction, `hamiltonian_gradients` being ∂H/∂θ = −∂J/∂θ.
  void add_gradient_norm_penalty(control::Network& network, const control::Trajectory& trajectory,
                                 std::vector<torch::Tensor>& hamiltonian_gradients,
                                 StepStats& stats);
};

}  // namespace octrain::methods
