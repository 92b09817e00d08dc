#pragma once

#include <memory>

#include "octrain/control/activation.h"

namespace octrain::control {

// x_{t+1} = x_t + δ·σ(g(x_t, θ_t)): a forward-Euler step of dx/dt = σ(g(x, θ)) ([EMSA]).
// g is a Dense or Conv2d stage mapping the state space to itself; θ_t are g's controls.
class ResidualStage : public Stage {
 public:
  ResidualStage(std::shared_ptr<Stage> inner, Activation activation, double delta);
  torch::Tensor forward(const torch::Tensor& x) override;
  StageKind kind() const override { return StageKind::kResidual; }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  LinearLayer* linear_layer() override { return inner_->linear_layer(); }
  LayerForm layer_form() const override { return {true, delta_, activation_}; }
  double forward_flops(const Shape& input) const override { return inner_->forward_flops(input); }

  Stage& inner() { return *inner_; }
  Activation activation() const { return activation_; }
  double delta() const { return delta_; }

 private:
  std::shared_ptr<Stage> inner_;
  Activation activation_;
  double delta_;
};

}  // namespace octrain::control
