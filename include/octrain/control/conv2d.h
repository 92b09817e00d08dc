#pragma once

#include "octrain/control/stage.h"

namespace octrain::control {

// x_{t+1} = W ⋆ x_t + b (2-D cross-correlation, square kernel); controls (W, b). Binary and
// Ternary control sets as for DenseStage: W in the set, no bias, per-output-channel scale α.
class Conv2dStage : public Stage, public LinearLayer {
 public:
  Conv2dStage(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1,
              int64_t padding = 0, bool bias = true, ControlSet set = ControlSet::kReal);
  torch::Tensor forward(const torch::Tensor& x) override;
  StageKind kind() const override { return StageKind::kConv2d; }
  ControlSet control_set() const override { return set_; }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  // LinearLayer (real control sets only: see linear_layer()).
  LinearLayer* linear_layer() override { return set_ == ControlSet::kReal ? this : nullptr; }
  torch::Tensor layer_weight() const override { return weight; }
  bool layer_has_bias() const override { return bias.defined(); }
  bool is_matrix() const override { return false; }
  torch::Tensor patches(const torch::Tensor& x) const override;
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& weight,
                      const torch::Tensor& bias) const override;
  torch::Tensor input_vjp(const torch::Tensor& weight, const torch::Tensor& x,
                          const torch::Tensor& v) const override;
  torch::Tensor weight_vjp(const torch::Tensor& x, const torch::Tensor& v) const override;
  double forward_flops(const Shape& input) const override;
  torch::Tensor* discrete_scale() override { return scale.defined() ? &scale : nullptr; }

  int64_t in_channels() const { return in_; }
  int64_t out_channels() const { return out_; }
  int64_t kernel() const { return kernel_; }
  int64_t stride() const { return stride_; }
  int64_t padding() const { return padding_; }
  torch::Tensor weight;  // [out, in, k, k]
  torch::Tensor bias;    // [out], undefined without bias
  torch::Tensor scale;   // [out] buffer α of discrete stages; undefined for real ones

 private:
  int64_t in_, out_, kernel_, stride_, padding_;
  ControlSet set_;
};

}  // namespace octrain::control
