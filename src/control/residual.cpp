#include "octrain/control/residual.h"

#include <fmt/format.h>

#include "octrain/util/error.h"

namespace octrain::control {

ResidualStage::ResidualStage(std::shared_ptr<Stage> inner, Activation activation, double delta)
    : Stage("Residual"), inner_(std::move(inner)), activation_(activation), delta_(delta) {
  if (!inner_ || !inner_->linear_layer())
    throw UsageError("Residual: the inner stage must be a real Dense or Conv2d layer");
  register_module("inner", inner_);
}

torch::Tensor ResidualStage::forward(const torch::Tensor& x) {
  return x + delta_ * apply_activation(activation_, inner_->forward(x));
}

std::string ResidualStage::describe() const {
  return fmt::format("Residual x + {}·{}({})", delta_, to_string(activation_), inner_->describe());
}

Shape ResidualStage::output_shape(const Shape& input) const {
  const Shape inner_out = inner_->output_shape(input);
  if (inner_out != input)
    throw UsageError(fmt::format("{}: maps {} to {}; a residual stage must preserve the shape",
                                 describe(), to_string(input), to_string(inner_out)));
  return input;
}

}  // namespace octrain::control
