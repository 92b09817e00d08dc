#pragma once

#include "octrain/control/stage.h"

namespace octrain::control {

// x_{t+1} = W ⋆ x_t + b (2-D cross-correlation, square kernel); controls (W, b). Binary and
// Ternary control sets as for DenseStage: W in the set, no bias, per-output-channel scale α.
class Conv2dStage : public Stage {
 public:
  Conv2dStage(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1,
              int64_t padding = 0, bool bias = true, ControlSet set = ControlSet::kReal);
  torch::Tensor forward(const torch::Tensor& x) override;
  StageKind kind() const override { return StageKind::kConv2d; }
  ControlSet control_set() const override { return set_; }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;

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
