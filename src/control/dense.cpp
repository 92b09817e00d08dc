#include "octrain/control/dense.h"

#include <fmt/format.h>
#include <torch/nn/init.h>

#include <cmath>

#include "octrain/control/discrete_controls.h"
#include "octrain/control/shapes_only.h"
#include "octrain/util/error.h"

namespace octrain::control {

DenseStage::DenseStage(int64_t in_features, int64_t out_features, bool with_bias, ControlSet set)
    : Stage("Dense"), in_(in_features), out_(out_features), set_(set) {
  if (in_features <= 0 || out_features <= 0)
    throw UsageError(
        fmt::format("Dense: sizes must be positive, got {}→{}", in_features, out_features));
  if (set != ControlSet::kReal) {
    if (with_bias)
      throw UsageError(fmt::format("Dense {}→{}: {} weights have no bias", in_features,
                                   out_features, to_string(set)));
    weight = register_parameter("weight", random_discrete({out_features, in_features}, set));
    scale = register_buffer("scale", torch::ones({out_features}, control_tensor_options()));
    return;
  }
  // libtorch's nn::Linear default: U(−1/√in, 1/√in) for both W and b.
  const double bound = 1.0 / std::sqrt(double(in_features));
  weight = register_parameter(
      "weight",
      torch::empty({out_features, in_features}, control_tensor_options()).uniform_(-bound, bound));
  if (with_bias)
    bias = register_parameter(
        "bias", torch::empty({out_features}, control_tensor_options()).uniform_(-bound, bound));
}

torch::Tensor DenseStage::forward(const torch::Tensor& x) {
  if (scale.defined()) return torch::mm(x, weight.t()).mul_(scale);
  return bias.defined() ? torch::addmm(bias, x, weight.t()) : torch::mm(x, weight.t());
}

std::string DenseStage::describe() const {
  if (set_ != ControlSet::kReal) return fmt::format("Dense {}→{} {}", in_, out_, to_string(set_));
  return fmt::format("Dense {}→{}{}", in_, out_, bias.defined() ? "" : " (no bias)");
}

Shape DenseStage::output_shape(const Shape& input) const {
  if (input.size() != 1 || input[0] != in_)
    throw UsageError(
        fmt::format("Dense {}→{}: expects input [{}], got {}", in_, out_, in_, to_string(input)));
  return {out_};
}

StageVjp DenseStage::vjp(const torch::Tensor& x, const torch::Tensor&, const torch::Tensor& p_next,
                         bool need_costate, const LocalGraph*) {
  StageVjp out;
  const torch::Tensor p = scale.defined() ? p_next * scale : p_next;  // co-state of W x_t
  if (need_costate) out.costate = torch::mm(p, weight);
  out.control_grads.push_back(torch::mm(p.t(), x));
  if (bias.defined()) out.control_grads.push_back(p_next.sum(0));
  return out;
}

torch::Tensor DenseStage::patches(const torch::Tensor& x) const {
  return x.unsqueeze(1);
}

torch::Tensor DenseStage::apply(const torch::Tensor& x, const torch::Tensor& w,
                                const torch::Tensor& b) const {
  return at::linear(x, w, b);
}

torch::Tensor DenseStage::input_vjp(const torch::Tensor& w, const torch::Tensor&,
                                    const torch::Tensor& v) const {
  return v.mm(w);
}

torch::Tensor DenseStage::weight_vjp(const torch::Tensor& x, const torch::Tensor& v) const {
  return v.t().mm(x);
}

double DenseStage::forward_flops(const Shape&) const {
  return 2.0 * double(in_) * double(out_);
}

}  // namespace octrain::control
