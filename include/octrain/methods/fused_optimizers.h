#pragma once

#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <functional>
#include <vector>

namespace octrain::methods {

// Whether the kernels of elementwise_kernels.h can read and write `t` as the same flat array as
// `like`: both defined, contiguous CPU tensors of one floating type (float or double) and size.
bool is_kernel_array(const torch::Tensor& t, const torch::Tensor& like);
// Runs pass(begin, end) over [0, n) in chunks on ATen's intra-op threads (one chunk below 32 k).
void over_elements(int64_t n, const std::function<void(int64_t, int64_t)>& pass);

// An optimiser that takes its gradients as arguments instead of from the parameters' .grad().
class GradientStep {
 public:
  virtual ~GradientStep() = default;
  // One step with gradient scale·gradients[i] for the i-th parameter of the param groups
  // (undefined: that parameter is skipped, as torch::optim skips one without a .grad()).
  virtual void step_with(const std::vector<torch::Tensor>& gradients, double scale) = 0;
  // Whether the last step was the fused pass (false: torch::optim's tensor ops, or no step yet).
  virtual bool last_step_fused() const = 0;
};

// torch::optim's SGD, Adagrad, RMSprop and Adam with the same options, state objects and hence
// checkpoint format (an archive of either loads into the other), whose step is one fused pass
// per parameter (elementwise_kernels.h) when every parameter, gradient and state tensor is a
// contiguous CPU float or double tensor of the parameter's type and weight decay is 0 (octrain
// puts weight decay in the running cost); otherwise, e.g. on CUDA, torch::optim's own step.
// The parameter/state pairs are cached: load() drops the cache, as it replaces the states.
template <typename Base, typename Options, typename State>
class FusedOptimizer final : public Base, public GradientStep {
 public:
  FusedOptimizer(std::vector<torch::Tensor> params, const Options& options)
      : Base(std::move(params), options) {}
  torch::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override;
  void step_with(const std::vector<torch::Tensor>& gradients, double scale) override;
  void load(torch::serialize::InputArchive& archive) override;
  bool last_step_fused() const override { return last_step_fused_; }

 private:
  // Whether the options allow the fused pass, and `state` (null before the first step) fits it.
  bool fusable(const Options& options, const torch::Tensor& param, const State* state) const;
  // The fused update of one parameter; `state` is null before its first step.
  void update(const Options& options, const torch::Tensor& param, const torch::Tensor& grad,
              double scale, State* state, size_t index);
  // Registers a new parameter state where torch::optim keeps it.
  State& add_state(size_t index, const torch::Tensor& param, std::unique_ptr<State> state);
  bool all_fusable(const std::vector<torch::Tensor>& gradients);
  void fused_step(const std::vector<torch::Tensor>& gradients, double scale);
  State* find_state(size_t index, const torch::Tensor& param);

  std::vector<State*> states_;  // by flat parameter index; null: not looked up yet
  bool last_step_fused_ = false;
};

using FusedSgd =
    FusedOptimizer<torch::optim::SGD, torch::optim::SGDOptions, torch::optim::SGDParamState>;
using FusedAdagrad = FusedOptimizer<torch::optim::Adagrad, torch::optim::AdagradOptions,
                                    torch::optim::AdagradParamState>;
using FusedRmsprop = FusedOptimizer<torch::optim::RMSprop, torch::optim::RMSpropOptions,
                                    torch::optim::RMSpropParamState>;
using FusedAdam =
    FusedOptimizer<torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState>;

}  // namespace octrain::methods
