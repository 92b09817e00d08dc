#include "octrain/control/activation.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "octrain/control/activation_formulas.h"
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
    case Activation::kErf:
      return "erf";
    case Activation::kIdentity:
      return "identity";
  }
  return "?";
}

Activation parse_activation(const std::string& name) {
  std::vector<std::string> known;
  for (auto a : kActivations) {
    if (to_string(a) == name) return a;
    known.push_back(to_string(a));
  }
  if (name == "linear" || name == "none") return Activation::kIdentity;
  throw UsageError(
      fmt::format("unknown activation '{}' (known: {})", name, fmt::join(known, ", ")));
}

torch::Tensor apply_activation(Activation activation, const torch::Tensor& z) {
  return formulas::value(activation, z);
}

torch::Tensor activation_backward(Activation activation, const torch::Tensor& z,
                                  const torch::Tensor& sigma_z, const torch::Tensor& p) {
  switch (activation) {
    // libtorch's fused kernels: one pass instead of three or four element-wise ops (tested
    // against formulas::slope in tests/control/activation_formulas_test.cpp).
    case Activation::kTanh:
      return at::tanh_backward(p, sigma_z);
    case Activation::kRelu:
      return at::threshold_backward(p, z, 0);
    case Activation::kSigmoid:
      return at::sigmoid_backward(p, sigma_z);
    case Activation::kIdentity:
      return p;
    case Activation::kSoftplus:
    case Activation::kErf:
      break;
  }
  return p * formulas::slope(activation, z, sigma_z);
}

torch::Tensor activation_second_derivative(Activation activation, const torch::Tensor& z,
                                           const torch::Tensor& sigma_z) {
  return formulas::curvature(activation, z, sigma_z);
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
