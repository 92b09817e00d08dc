#include "octrain/control/activation.h"

#include <fmt/format.h>

#include "octrain/util/error.h"

namespace octrain::control {

std::string to_string(Activation activation) {
  switch (activation) {
    case Activation::kTanh:
      return "tanh";
    case Activation::kRelu:
      return "relu";
    case Activation::kSigmoid:
      return "sigmoid";
    case Activation::kSoftplus:
      return "softplus";
    case Activation::kIdentity:
      return "identity";
  }
  return "?";
}

Activation parse_activation(const std::string& name) {
  for (auto a : {Activation::kTanh, Activation::kRelu, Activation::kSigmoid, Activation::kSoftplus,
                 Activation::kIdentity}) {
    if (to_string(a) == name) return a;
  }
  if (name == "linear" || name == "none") return Activation::kIdentity;
  throw UsageError(fmt::format(
      "unknown activation '{}' (known: tanh, relu, sigmoid, softplus, identity)", name));
}

torch::Tensor apply_activation(Activation activation, const torch::Tensor& z) {
  switch (activation) {
    case Activation::kTanh:
      return torch::tanh(z);
    case Activation::kRelu:
      return torch::relu(z);
    case Activation::kSigmoid:
      return torch::sigmoid(z);
    case Activation::kSoftplus:
      return torch::softplus(z);
    case Activation::kIdentity:
      return z;
  }
  return z;
}

torch::Tensor activation_backward(Activation activation, const torch::Tensor& z,
                                  const torch::Tensor& sigma_z, const torch::Tensor& p) {
  switch (activation) {
    // libtorch's fused kernels: one pass instead of three or four element-wise ops.
    case Activation::kTanh:
      return at::tanh_backward(p, sigma_z);
    case Activation::kRelu:
      return at::threshold_backward(p, z, 0);
    case Activation::kSigmoid:
      return at::sigmoid_backward(p, sigma_z);
    case Activation::kSoftplus:
      return p * torch::sigmoid(z);
    case Activation::kIdentity:
      return p;
  }
  return p;
}

torch::Tensor activation_second_derivative(Activation activation, const torch::Tensor& z,
                                           const torch::Tensor& sigma_z) {
  switch (activation) {
    case Activation::kTanh:  // σ' = 1 − σ², σ'' = −2σσ'
      return -2.0 * sigma_z * (1.0 - sigma_z.square());
    case Activation::kSigmoid: {  // σ' = σ(1 − σ), σ'' = σ'(1 − 2σ)
      return sigma_z * (1.0 - sigma_z) * (1.0 - 2.0 * sigma_z);
    }
    case Activation::kSoftplus: {  // σ' = s(z) (logistic), σ'' = s(1 − s)
      const auto s = torch::sigmoid(z);
      return s * (1.0 - s);
    }
    case Activation::kRelu:
    case Activation::kIdentity:
      return torch::zeros_like(z);
  }
  return torch::zeros_like(z);
}

ActivationStage::ActivationStage(Activation activation)
    : Stage(to_string(activation)), activation_(activation) {}

torch::Tensor ActivationStage::forward(const torch::Tensor& x) {
  return apply_activation(activation_, x);
}

std::string ActivationStage::describe() const {
  return to_string(activation_);
}

StageVjp ActivationStage::vjp(const torch::Tensor& x, const torch::Tensor& y,
                              const torch::Tensor& p_next, bool need_costate, const LocalGraph*) {
  StageVjp out;
  if (need_costate) out.costate = activation_backward(activation_, x, y, p_next);
  return out;
}

torch::Tensor ActivationStage::elementwise_slope(const torch::Tensor& x,
                                                 const torch::Tensor& y) const {
  return activation_backward(activation_, x, y, torch::ones_like(y));
}

torch::Tensor ActivationStage::elementwise_curvature(const torch::Tensor& x,
                                                     const torch::Tensor& y) const {
  return activation_second_derivative(activation_, x, y);
}

}  // namespace octrain::control
