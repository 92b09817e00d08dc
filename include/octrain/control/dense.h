#pragma once

#include "octrain/control/stage.h"

namespace octrain::control {

// x_{t+1} = W x_t + b with W ∈ R^{out×in}; controls (W, b). With a Binary or Ternary control
// set (docs/methods/discrete-msa.md) W holds values of the set, there is no bias, and a
// non-trainable per-output scale α (ones unless a BWN/TWN baseline sets it) gives
// x_{t+1} = α ⊙ (W x_t).
class DenseStage : public Stage, public LinearLayer {
 public:
  DenseStage(int64_t in_features, int64_t out_features, bool bias = true,
             ControlSet set = ControlSet::kReal);
  torch::Tensor forward(const torch::Tensor& x) override;
  StageKind kind() const override { return StageKind::kDense; }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  ControlSet control_set() const override { return set_; }
  bool has_closed_form_vjp() const override { return true; }
  // p_t = Wᵀ p_{t+1};  ∂/∂W = p_{t+1} x_tᵀ;  ∂/∂b = p_{t+1} (summed over the batch).
  StageVjp vjp(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& p_next,
               bool need_costate, const LocalGraph* graph) override;
  // LinearLayer (real control sets only: see linear_layer()).
  LinearLayer* linear_layer() override { return set_ == ControlSet::kReal ? this : nullptr; }
  torch::Tensor layer_weight() const override { return weight; }
  bool layer_has_bias() const override { return bias.defined(); }
  bool is_matrix() const override { return true; }
  torch::Tensor patches(const torch::Tensor& x) const override;
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& weight,
                      const torch::Tensor& bias) const override;
  torch::Tensor input_vjp(const torch::Tensor& weight, const torch::Tensor& x,
                          const torch::Tensor& v) const override;
  torch::Tensor weight_vjp(const torch::Tensor& x, const torch::Tensor& v) const override;
  double forward_flops(const Shape& input) const override;
  torch::Tensor* discrete_scale() override { return scale.defined() ? &scale : nullptr; }

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  torch::Tensor weight;
  torch::Tensor bias;   // undefined without bias
  torch::Tensor scale;  // [out] buffer α of discrete stages; undefined for real ones

 private:
  int64_t in_, out_;
  ControlSet set_;
};

}  // namespace octrain::control
