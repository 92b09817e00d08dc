#pragma once

#include <torch/types.h>

#include <cmath>

#include "octrain/control/activation_kind.h"

// σ(z), σ′(z) and σ″(z) of every activation, written once for scalars (double: the mean-field
// analysis, the augmented Hamiltonian's scalar loops) and for tensors (activation and residual
// stages, DDP's second-order term). σ′ and σ″ take z and s = σ(z), and use whichever the
// derivative is cheapest and most accurate from:
//
//   tanh      σ′ = 1 − s²                σ″ = −2sσ′
//   relu      σ′ = [z > 0]               σ″ = 0         (both taken as 0 at the kink z = 0)
//   sigmoid   σ′ = s(1 − s)              σ″ = σ′(1 − 2s)
//   softplus  σ′ = ℓ(z), ℓ the logistic  σ″ = ℓ(1 − ℓ)
//   erf       σ′ = (2/√π)·e^(−z²)        σ″ = −2z·σ′
//   identity  σ′ = 1                     σ″ = 0
//
// σ itself is libtorch's kernel for tensors and the same function for doubles (softplus with
// libtorch's threshold: z above 20 is returned as it is), so both paths agree. The fused
// backward kernels of activation_backward are checked against slope() in the tests.
namespace octrain::control::formulas {

// The element-wise primitives, for double and torch::Tensor (called qualified, so argument-
// dependent lookup never offers ATen's overloads beside them).
namespace primitive {
constexpr double kSoftplusThreshold = 20;  // torch::softplus's default, β = 1

inline double tanh(double z) {
  return std::tanh(z);
}
inline torch::Tensor tanh(const torch::Tensor& z) {
  return torch::tanh(z);
}
inline double relu(double z) {
  return z > 0 ? z : 0.0;
}
inline torch::Tensor relu(const torch::Tensor& z) {
  return torch::relu(z);
}
inline double sigmoid(double z) {
  return 1.0 / (1.0 + std::exp(-z));
}
inline torch::Tensor sigmoid(const torch::Tensor& z) {
  return torch::sigmoid(z);
}
inline double softplus(double z) {
  return z > kSoftplusThreshold ? z : std::log1p(std::exp(z));
}
inline torch::Tensor softplus(const torch::Tensor& z) {
  return torch::softplus(z, 1, kSoftplusThreshold);
}
inline double erf(double z) {
  return std::erf(z);
}
inline torch::Tensor erf(const torch::Tensor& z) {
  return torch::erf(z);
}
inline double exp(double z) {
  return std::exp(z);
}
inline torch::Tensor exp(const torch::Tensor& z) {
  return torch::exp(z);
}
inline double step(double z) {
  return z > 0 ? 1.0 : 0.0;
}  // Heaviside, 0 at 0
inline torch::Tensor step(const torch::Tensor& z) {
  return (z > 0).to(z.scalar_type());
}
inline double constant(double, double c) {
  return c;
}
inline torch::Tensor constant(const torch::Tensor& z, double c) {
  return torch::full_like(z, c);
}
}  // namespace primitive

inline const double kTwoOverSqrtPi = 2.0 / std::sqrt(M_PI);  // erf's slope at 0

// σ(z).
template <typename T>
T value(Activation activation, const T& z) {
  switch (activation) {
    case Activation::kTanh:
      return primitive::tanh(z);
    case Activation::kRelu:
      return primitive::relu(z);
    case Activation::kSigmoid:
      return primitive::sigmoid(z);
    case Activation::kSoftplus:
      return primitive::softplus(z);
    case Activation::kErf:
      return primitive::erf(z);
    case Activation::kIdentity:
      return z;
  }
  return z;
}

// σ′(z) from z and s = σ(z).
template <typename T>
T slope(Activation activation, const T& z, const T& s) {
  switch (activation) {
    case Activation::kTanh:
      return 1.0 - s * s;
    case Activation::kRelu:
      return primitive::step(z);
    case Activation::kSigmoid:
      return s * (1.0 - s);
    case Activation::kSoftplus:
      return primitive::sigmoid(z);
    case Activation::kErf:
      return kTwoOverSqrtPi * primitive::exp(-(z * z));
    case Activation::kIdentity:
      break;
  }
  return primitive::constant(z, 1.0);
}

// σ″(z) from z and s = σ(z).
template <typename T>
T curvature(Activation activation, const T& z, const T& s) {
  switch (activation) {
    case Activation::kTanh:
      return -2.0 * s * slope(activation, z, s);
    case Activation::kSigmoid:
      return slope(activation, z, s) * (1.0 - 2.0 * s);
    case Activation::kSoftplus: {
      const T logistic = primitive::sigmoid(z);
      return logistic * (1.0 - logistic);
    }
    case Activation::kErf:  // −2z·σ′, in the order that keeps the analysis' values
      return -2.0 * z * kTwoOverSqrtPi * primitive::exp(-(z * z));
    case Activation::kRelu:
    case Activation::kIdentity:
      break;
  }
  return primitive::constant(z, 0.0);
}

}  // namespace octrain::control::formulas
