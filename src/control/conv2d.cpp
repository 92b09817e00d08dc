#include "octrain/control/conv2d.h"

#include <fmt/format.h>

#include <cmath>

#include "octrain/control/discrete_controls.h"
#include "octrain/control/shapes_only.h"
#include "octrain/util/error.h"

namespace octrain::control {

Conv2dStage::Conv2dStage(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
                         int64_t padding, bool with_bias, ControlSet set)
    : Stage("Conv2d"),
      in_(in_channels),
      out_(out_channels),
      kernel_(kernel),
      stride_(stride),
      padding_(padding),
      set_(set) {
  if (in_channels <= 0 || out_channels <= 0 || kernel <= 0 || stride <= 0 || padding < 0)
    throw UsageError(
        fmt::format("Conv2d: invalid geometry in={} out={} kernel={} stride={} padding={}",
                    in_channels, out_channels, kernel, stride, padding));
  if (set != ControlSet::kReal) {
    if (with_bias)
      throw UsageError(fmt::format("Conv2d {}→{}: {} weights have no bias", in_channels,
                                   out_channels, to_string(set)));
    weight = register_parameter("weight",
                                random_discrete({out_channels, in_channels, kernel, kernel}, set));
    scale = register_buffer("scale", torch::ones({out_channels}, control_tensor_options()));
    return;
  }
  // libtorch's nn::Conv2d default: U(−1/√fan_in, 1/√fan_in).
  const double bound = 1.0 / std::sqrt(double(in_channels * kernel * kernel));
  weight = register_parameter(
      "weight", torch::empty({out_channels, in_channels, kernel, kernel}, control_tensor_options())
                    .uniform_(-bound, bound));
  if (with_bias)
    bias = register_parameter(
        "bias", torch::empty({out_channels}, control_tensor_options()).uniform_(-bound, bound));
}

torch::Tensor Conv2dStage::forward(const torch::Tensor& x) {
  auto y = torch::conv2d(x, weight, bias, {stride_, stride_}, {padding_, padding_});
  return scale.defined() ? y * scale.view({1, -1, 1, 1}) : y;
}

std::string Conv2dStage::describe() const {
  return fmt::format("Conv2d {}→{} {}×{} stride {} pad {}{}", in_, out_, kernel_, kernel_, stride_,
                     padding_,
                     set_ != ControlSet::kReal ? " " + to_string(set_)
                     : bias.defined()          ? ""
                                               : " (no bias)");
}

Shape Conv2dStage::output_shape(const Shape& input) const {
  if (input.size() != 3 || input[0] != in_)
    throw UsageError(
        fmt::format("{}: expects input [{}×H×W], got {}", describe(), in_, to_string(input)));
  // Tested before dividing, which rounds a negative numerator towards zero.
  const int64_t span_h = input[1] + 2 * padding_ - kernel_,
                span_w = input[2] + 2 * padding_ - kernel_;
  if (span_h < 0 || span_w < 0)
    throw UsageError(
        fmt::format("{}: input {} is smaller than the kernel", describe(), to_string(input)));
  return {out_, span_h / stride_ + 1, span_w / stride_ + 1};
}

torch::Tensor Conv2dStage::patches(const torch::Tensor& x) const {
  return torch::im2col(x, {kernel_, kernel_}, {1, 1}, {padding_, padding_}, {stride_, stride_})
      .transpose(1, 2);  // [B, L, in·k·k]
}

torch::Tensor Conv2dStage::apply(const torch::Tensor& x, const torch::Tensor& w,
                                 const torch::Tensor& b) const {
  return torch::conv2d(x, w, b, {stride_, stride_}, {padding_, padding_});
}

torch::Tensor Conv2dStage::input_vjp(const torch::Tensor& w, const torch::Tensor& x,
                                     const torch::Tensor& v) const {
  return std::get<0>(at::convolution_backward(v, x, w, /*bias_sizes=*/{}, {stride_, stride_},
                                              {padding_, padding_}, {1, 1}, false, {0, 0}, 1,
                                              {true, false, false}));
}

torch::Tensor Conv2dStage::weight_vjp(const torch::Tensor& x, const torch::Tensor& v) const {
  return std::get<1>(at::convolution_backward(v, x, weight, /*bias_sizes=*/{}, {stride_, stride_},
                                              {padding_, padding_}, {1, 1}, false, {0, 0}, 1,
                                              {false, true, false}));
}

double Conv2dStage::forward_flops(const Shape& input) const {
  const auto output = output_shape(input);  // [C_out, H_out, W_out]
  return 2.0 * double(in_) * double(kernel_ * kernel_) * double(output[0]) * double(output[1]) *
         double(output[2]);
}

}  // namespace octrain::control
