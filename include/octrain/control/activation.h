#pragma once

#include "octrain/control/activation_kind.h"
#include "octrain/control/stage.h"

namespace octrain::control {

torch::Tensor apply_activation(Activation activation, const torch::Tensor& z);
// σ'(z) ⊙ p, given z and σ(z) (whichever the derivative is cheapest from).
torch::Tensor activation_backward(Activation activation, const torch::Tensor& z,
                                  const torch::Tensor& sigma_z, const torch::Tensor& p);

// σ''(z), given z and σ(z): the second-order dynamics term of DDP's value recursion.
torch::Tensor activation_second_derivative(Activation activation, const torch::Tensor& z,
                                           const torch::Tensor& sigma_z);

// x_{t+1} = σ(x_t), element-wise; no controls.
class ActivationStage : public Stage {
 public:
  explicit ActivationStage(Activation activation);
  torch::Tensor forward(const torch::Tensor& x) override;
  StageKind kind() const override { return StageKind::kActivation; }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override { return input; }
  bool has_closed_form_vjp() const override { return true; }
  StageVjp vjp(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& p_next,
               bool need_costate, const LocalGraph* graph) override;
  bool is_elementwise() const override { return true; }
  torch::Tensor elementwise_slope(const torch::Tensor& x, const torch::Tensor& y) const override;
  torch::Tensor elementwise_curvature(const torch::Tensor& x,
                                      const torch::Tensor& y) const override;
  Activation activation() const { return activation_; }

 private:
  Activation activation_;
};

}  // namespace octrain::control
