#include "octrain/methods/fused_optimizers.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <c10/util/string_utils.h>
#include <torch/utils.h>

#include <cmath>

#include "octrain/methods/elementwise_kernels.h"

namespace octrain::methods {
namespace {

// Below this many elements a pass runs on the calling thread (ATen's own element-wise grain).
constexpr int64_t kGrain = 32768;

// torch::optim's key for a parameter's state.
std::string state_key(const torch::Tensor& param) {
  return c10::guts::to_string(param.unsafeGetTensorImpl());
}

template <typename T>
T* data(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

template <typename T>
T* offset(T* p, int64_t begin) {
  return p ? p + begin : nullptr;
}

}  // namespace

bool is_kernel_array(const torch::Tensor& t, const torch::Tensor& like) {
  return t.defined() && like.defined() && t.device().is_cpu() && t.layout() == torch::kStrided &&
         (t.scalar_type() == torch::kFloat || t.scalar_type() == torch::kDouble) &&
         t.scalar_type() == like.scalar_type() && t.numel() == like.numel() && t.is_contiguous();
}

void over_elements(int64_t n, const std::function<void(int64_t, int64_t)>& pass) {
  at::parallel_for(0, n, kGrain, pass);
}

template <typename Base, typename Options, typename State>
torch::Tensor FusedOptimizer<Base, Options, State>::step(
    torch::optim::Optimizer::LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  std::vector<torch::Tensor> gradients;
  for (auto& group : this->param_groups())
    for (auto& p : group.params()) gradients.push_back(p.grad());
  last_step_fused_ = all_fusable(gradients);
  if (last_step_fused_)
    fused_step(gradients, 1.0);
  else
    Base::step();
  return loss;
}

template <typename Base, typename Options, typename State>
void FusedOptimizer<Base, Options, State>::step_with(const std::vector<torch::Tensor>& gradients,
                                                     double scale) {
  torch::NoGradGuard no_grad;
  last_step_fused_ = all_fusable(gradients);
  if (last_step_fused_) return fused_step(gradients, scale);
  size_t i = 0;
  for (auto& group : this->param_groups())
    for (auto& p : group.params()) {
      const auto& g = gradients.at(i++);
      p.mutable_grad() = !g.defined() || scale == 1.0 ? g : g * scale;
    }
  Base::step();
}

template <typename Base, typename Options, typename State>
void FusedOptimizer<Base, Options, State>::load(torch::serialize::InputArchive& archive) {
  Base::load(archive);
  states_.clear();
}

template <typename Base, typename Options, typename State>
bool FusedOptimizer<Base, Options, State>::all_fusable(
    const std::vector<torch::Tensor>& gradients) {
  size_t i = 0;
  for (auto& group : this->param_groups()) {
    const auto& options = static_cast<const Options&>(group.options());
    for (auto& p : group.params()) {
      if (i >= gradients.size()) return false;
      const auto& g = gradients[i];
      if (g.defined() && (!is_kernel_array(p, p) || !is_kernel_array(g, p) ||
                          !fusable(options, p, find_state(i, p))))
        return false;
      ++i;
    }
  }
  return i == gradients.size();
}

template <typename Base, typename Options, typename State>
void FusedOptimizer<Base, Options, State>::fused_step(const std::vector<torch::Tensor>& gradients,
                                                      double scale) {
  size_t i = 0;
  for (auto& group : this->param_groups()) {
    const auto& options = static_cast<const Options&>(group.options());
    for (auto& p : group.params()) {
      const auto& g = gradients[i];
      if (g.defined()) {
        update(options, p, g, scale, find_state(i, p), i);
        p.unsafeGetTensorImpl()->bump_version();  // as an in-place tensor op would
      }
      ++i;
    }
  }
}

template <typename Base, typename Options, typename State>
State* FusedOptimizer<Base, Options, State>::find_state(size_t index, const torch::Tensor& param) {
  if (states_.size() <= index) states_.resize(index + 1, nullptr);
  if (!states_[index]) {
    auto& map = this->state();
    const auto found = map.find(state_key(param));
    if (found != map.end()) states_[index] = static_cast<State*>(found->second.get());
  }
  return states_[index];
}

template <typename Base, typename Options, typename State>
State& FusedOptimizer<Base, Options, State>::add_state(size_t index, const torch::Tensor& param,
                                                       std::unique_ptr<State> state) {
  State& added = *state;
  this->state()[state_key(param)] = std::move(state);
  if (states_.size() <= index) states_.resize(index + 1, nullptr);
  states_[index] = &added;
  return added;
}

template <>
bool FusedSgd::fusable(const torch::optim::SGDOptions& options, const torch::Tensor& param,
                       const torch::optim::SGDParamState* state) const {
  if (options.weight_decay() != 0) return false;
  return options.momentum() == 0 || !state || is_kernel_array(state->momentum_buffer(), param);
}

template <>
void FusedSgd::update(const torch::optim::SGDOptions& options, const torch::Tensor& param,
                      const torch::Tensor& grad, double scale, torch::optim::SGDParamState* state,
                      size_t index) {
  const kernels::SgdCoefficients c{options.lr(), options.momentum(), options.dampening(),
                                   options.nesterov(), state == nullptr};
  torch::Tensor buffer;
  if (options.momentum() != 0) {
    if (!state) {  // the first step copies the gradient into the buffer, as torch::optim does
      auto fresh = std::make_unique<torch::optim::SGDParamState>();
      fresh->momentum_buffer(torch::empty_like(param));
      state = &add_state(index, param, std::move(fresh));
    }
    buffer = state->momentum_buffer();
  }
  AT_DISPATCH_FLOATING_TYPES(param.scalar_type(), "fused sgd", [&] {
    auto *p = data<scalar_t>(param), *b = data<scalar_t>(buffer);
    const auto* g = data<scalar_t>(grad);
    over_elements(param.numel(), [&](int64_t begin, int64_t end) {
      kernels::sgd(p + begin, g + begin, offset(b, begin), end - begin, scale, c);
    });
  });
}

template <>
bool FusedAdagrad::fusable(const torch::optim::AdagradOptions& options, const torch::Tensor& param,
                           const torch::optim::AdagradParamState* state) const {
  // torch::optim makes the state of every parameter in its constructor.
  return options.weight_decay() == 0 && state && is_kernel_array(state->sum(), param);
}

template <>
void FusedAdagrad::update(const torch::optim::AdagradOptions& options, const torch::Tensor& param,
                          const torch::Tensor& grad, double scale,
                          torch::optim::AdagradParamState* state, size_t) {
  state->step(state->step() + 1);
  const double clr =
      options.lr() / (1 + static_cast<double>(state->step() - 1) * options.lr_decay());
  AT_DISPATCH_FLOATING_TYPES(param.scalar_type(), "fused adagrad", [&] {
    auto *p = data<scalar_t>(param), *s = data<scalar_t>(state->sum());
    const auto* g = data<scalar_t>(grad);
    over_elements(param.numel(), [&](int64_t begin, int64_t end) {
      kernels::adagrad(p + begin, g + begin, s + begin, end - begin, scale, clr, options.eps());
    });
  });
}

template <>
bool FusedRmsprop::fusable(const torch::optim::RMSpropOptions& options, const torch::Tensor& param,
                           const torch::optim::RMSpropParamState* state) const {
  if (options.weight_decay() != 0) return false;
  if (!state) return true;
  return is_kernel_array(state->square_avg(), param) &&
         (options.momentum() <= 0 || is_kernel_array(state->momentum_buffer(), param)) &&
         (!options.centered() || is_kernel_array(state->grad_avg(), param));
}

template <>
void FusedRmsprop::update(const torch::optim::RMSpropOptions& options, const torch::Tensor& param,
                          const torch::Tensor& grad, double scale,
                          torch::optim::RMSpropParamState* state, size_t index) {
  if (!state) {
    auto fresh = std::make_unique<torch::optim::RMSpropParamState>();
    fresh->step(0);
    fresh->square_avg(torch::zeros_like(param));
    if (options.momentum() > 0) fresh->momentum_buffer(torch::zeros_like(param));
    if (options.centered()) fresh->grad_avg(torch::zeros_like(param));
    state = &add_state(index, param, std::move(fresh));
  }
  state->step(state->step() + 1);
  const kernels::RmspropCoefficients c{options.lr(), options.alpha(), options.eps(),
                                       options.momentum()};
  const auto buffer = options.momentum() > 0 ? state->momentum_buffer() : torch::Tensor();
  const auto average = options.centered() ? state->grad_avg() : torch::Tensor();
  AT_DISPATCH_FLOATING_TYPES(param.scalar_type(), "fused rmsprop", [&] {
    auto *p = data<scalar_t>(param), *s = data<scalar_t>(state->square_avg()),
         *a = data<scalar_t>(average), *b = data<scalar_t>(buffer);
    const auto* g = data<scalar_t>(grad);
    over_elements(param.numel(), [&](int64_t begin, int64_t end) {
      kernels::rmsprop(p + begin, g + begin, s + begin, offset(a, begin), offset(b, begin),
                       end - begin, scale, c);
    });
  });
}

template <>
bool FusedAdam::fusable(const torch::optim::AdamOptions& options, const torch::Tensor& param,
                        const torch::optim::AdamParamState* state) const {
  if (options.weight_decay() != 0) return false;
  if (!state) return true;
  return is_kernel_array(state->exp_avg(), param) && is_kernel_array(state->exp_avg_sq(), param) &&
         (!options.amsgrad() || is_kernel_array(state->max_exp_avg_sq(), param));
}

template <>
void FusedAdam::update(const torch::optim::AdamOptions& options, const torch::Tensor& param,
                       const torch::Tensor& grad, double scale, torch::optim::AdamParamState* state,
                       size_t index) {
  if (!state) {
    auto fresh = std::make_unique<torch::optim::AdamParamState>();
    fresh->step(0);
    fresh->exp_avg(torch::zeros_like(param));
    fresh->exp_avg_sq(torch::zeros_like(param));
    if (options.amsgrad()) fresh->max_exp_avg_sq(torch::zeros_like(param));
    state = &add_state(index, param, std::move(fresh));
  }
  state->step(state->step() + 1);
  const auto [beta1, beta2] = options.betas();
  const double correction1 = 1 - std::pow(beta1, state->step());
  const double correction2 = 1 - std::pow(beta2, state->step());
  const kernels::AdamCoefficients c{beta1, beta2, options.eps(), options.lr() / correction1,
                                    std::sqrt(correction2)};
  const auto max_sq = options.amsgrad() ? state->max_exp_avg_sq() : torch::Tensor();
  AT_DISPATCH_FLOATING_TYPES(param.scalar_type(), "fused adam", [&] {
    auto *p = data<scalar_t>(param), *m = data<scalar_t>(state->exp_avg()),
         *v = data<scalar_t>(state->exp_avg_sq()), *v_max = data<scalar_t>(max_sq);
    const auto* g = data<scalar_t>(grad);
    over_elements(param.numel(), [&](int64_t begin, int64_t end) {
      kernels::adam(p + begin, g + begin, m + begin, v + begin, offset(v_max, begin), end - begin,
                    scale, c);
    });
  });
}

template class FusedOptimizer<torch::optim::SGD, torch::optim::SGDOptions,
                              torch::optim::SGDParamState>;
template class FusedOptimizer<torch::optim::Adagrad, torch::optim::AdagradOptions,
                              torch::optim::AdagradParamState>;
template class FusedOptimizer<torch::optim::RMSprop, torch::optim::RMSpropOptions,
                              torch::optim::RMSpropParamState>;
template class FusedOptimizer<torch::optim::Adam, torch::optim::AdamOptions,
                              torch::optim::AdamParamState>;

}  // namespace octrain::methods
