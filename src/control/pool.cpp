#include "octrain/control/pool.h"

#include <fmt/format.h>

#include "octrain/util/error.h"

namespace octrain::control {

PoolStage::PoolStage(PoolType type, int64_t window, int64_t stride)
    : Stage(type == PoolType::kAverage ? "AvgPool" : "MaxPool"),
      type_(type),
      window_(window),
      stride_(stride > 0 ? stride : window) {
  if (window <= 0)
    throw UsageError(fmt::format("{}: window must be positive, got {}", name(), window));
}

torch::Tensor PoolStage::forward(const torch::Tensor& x) {
  if (type_ == PoolType::kAverage)
    return torch::avg_pool2d(x, {window_, window_}, {stride_, stride_});
  return torch::max_pool2d(x, {window_, window_}, {stride_, stride_});
}

std::string PoolStage::describe() const {
  return fmt::format("{} {}×{} stride {}", name(), window_, window_, stride_);
}

Shape PoolStage::output_shape(const Shape& input) const {
  if (input.size() != 3)
    throw UsageError(
        fmt::format("{}: expects input [C×H×W], got {}", describe(), to_string(input)));
  // Tested before dividing: C++ rounds (28 − 29) / 29 towards zero, which would give 1.
  if (input[1] < window_ || input[2] < window_)
    throw UsageError(
        fmt::format("{}: input {} is smaller than the window", describe(), to_string(input)));
  return {input[0], (input[1] - window_) / stride_ + 1, (input[2] - window_) / stride_ + 1};
}

Shape ChannelMeanStage::output_shape(const Shape& input) const {
  if (input.size() != 3)
    throw UsageError(fmt::format("ChannelMean: expects input [C×H×W], got {}", to_string(input)));
  return {1, input[1], input[2]};
}

StageVjp ChannelMeanStage::vjp(const torch::Tensor& x, const torch::Tensor&,
                               const torch::Tensor& p_next, bool need_costate, const LocalGraph*) {
  StageVjp out;
  if (need_costate) out.costate = (p_next / double(x.size(1))).expand_as(x).contiguous();
  return out;
}

Shape FlattenStage::output_shape(const Shape& input) const {
  int64_t n = 1;
  for (auto d : input) n *= d;
  return {n};
}

StageVjp FlattenStage::vjp(const torch::Tensor& x, const torch::Tensor&,
                           const torch::Tensor& p_next, bool need_costate, const LocalGraph*) {
  StageVjp out;
  if (need_costate) out.costate = p_next.reshape(x.sizes());
  return out;
}

}  // namespace octrain::control
