#pragma once

#include <string>
#include <vector>

namespace octrain::analysis {

// A scalar activation for mean-field analysis: φ and its first two derivatives, from the same
// formulas as the networks' activations (control/activation_formulas.h). A new activation is a
// control::Activation with its formulas there and a line in activation_functions.cpp.
struct ActivationFunctions {
  std::string name;
  double (*phi)(double);
  double (*dphi)(double);
  double (*d2phi)(double);
};

// tanh, relu, sigmoid, softplus, erf, linear (the network's identity). Throws UsageError listing
// the known names.
const ActivationFunctions& activation_functions(const std::string& name);
std::vector<std::string> activation_function_names();

}  // namespace octrain::analysis
