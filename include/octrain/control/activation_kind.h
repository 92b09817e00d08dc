#pragma once

#include <string>

namespace octrain::control {

// The element-wise nonlinearities σ of activation and residual stages; their formulas, shared
// with the mean-field analysis, are in activation_formulas.h.
enum class Activation { kTanh, kRelu, kSigmoid, kSoftplus, kErf, kIdentity };
inline constexpr Activation kActivations[] = {Activation::kTanh,    Activation::kRelu,
                                              Activation::kSigmoid, Activation::kSoftplus,
                                              Activation::kErf,     Activation::kIdentity};

std::string to_string(Activation activation);
// A name of to_string, or "linear" or "none" for the identity; throws UsageError listing the
// known names.
Activation parse_activation(const std::string& name);

}  // namespace octrain::control
