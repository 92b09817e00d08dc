#pragma once

#include "octrain/control/stage.h"

namespace octrain::control {

enum class PoolType { kAverage, kMax };

// Average or max pooling over square windows (stride defaults to the window); no controls.
class PoolStage : public Stage {
 public:
  PoolStage(PoolType type, int64_t window, int64_t stride = 0);
  torch::Tensor forward(const torch::Tensor& x) override;
  StageKind kind() const override { return StageKind::kPool; }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  PoolType type() const { return type_; }
  int64_t window() const { return window_; }
  int64_t stride() const { return stride_; }

 private:
  PoolType type_;
  int64_t window_, stride_;
};

// Mean over the channel axis: [C,H,W] → [1,H,W] (the E-MSA tiny CNN's read-out); no controls.
class ChannelMeanStage : public Stage {
 public:
  ChannelMeanStage() : Stage("ChannelMean") {}
  torch::Tensor forward(const torch::Tensor& x) override { return x.mean(1, /*keepdim=*/true); }
  StageKind kind() const override { return StageKind::kPool; }
  std::string describe() const override { return "ChannelMean"; }
  Shape output_shape(const Shape& input) const override;
  bool has_closed_form_vjp() const override { return true; }
  StageVjp vjp(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& p_next,
               bool need_costate, const LocalGraph* graph) override;
};

// [C,H,W] → [C·H·W]; no controls.
class FlattenStage : public Stage {
 public:
  FlattenStage() : Stage("Flatten") {}
  torch::Tensor forward(const torch::Tensor& x) override { return x.flatten(1); }
  StageKind kind() const override { return StageKind::kFlatten; }
  std::string describe() const override { return "Flatten"; }
  bool is_reshape() const override { return true; }
  Shape output_shape(const Shape& input) const override;
  bool has_closed_form_vjp() const override { return true; }
  StageVjp vjp(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& p_next,
               bool need_costate, const LocalGraph* graph) override;
};

}  // namespace octrain::control
