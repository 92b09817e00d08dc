#pragma once

#include <string>

namespace octrain::control {

// The element-wise nonlinearities σ of activation and residual stages.
enum class Activation { kTanh, kRelu, kSigmoid, kSoftplus, kIdentity };

std::string to_string(Activation activation);
// Throws UsageError listing the known names.
Activation parse_activation(const std::string& name);

}  // namespace octrain::control
