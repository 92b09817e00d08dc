#include "octrain/analysis/activation_functions.h"

#include <fmt/format.h>

#include <cmath>

#include "octrain/util/error.h"

namespace octrain::analysis {
namespace {

double sigmoid(double u) {
  return 1.0 / (1.0 + std::exp(-u));
}
double sech2(double u) {
  const double c = std::cosh(u);
  return std::isfinite(c) ? 1.0 / (c * c) : 0.0;
}
const double kTwoOverSqrtPi = 2.0 / std::sqrt(M_PI);

// ReLU's derivatives are taken as 0 at u = 0; with even Gauss–Hermite rules no node sits there.
const std::vector<ActivationFunctions>& table() {
  static const std::vector<ActivationFunctions> t = {
      {"tanh", [](double u) { return std::tanh(u); }, [](double u) { return sech2(u); },
       [](double u) { return -2.0 * std::tanh(u) * sech2(u); }},
      {"relu", [](double u) { return u > 0 ? u : 0.0; }, [](double u) { return u > 0 ? 1.0 : 0.0; },
       [](double) { return 0.0; }},
      {"sigmoid", sigmoid, [](double u) { return sigmoid(u) * (1 - sigmoid(u)); },
       [](double u) { return sigmoid(u) * (1 - sigmoid(u)) * (1 - 2 * sigmoid(u)); }},
      {"softplus", [](double u) { return u > 30 ? u : std::log1p(std::exp(u)); }, sigmoid,
       [](double u) { return sigmoid(u) * (1 - sigmoid(u)); }},
      {"erf", [](double u) { return std::erf(u); },
       [](double u) { return kTwoOverSqrtPi * std::exp(-u * u); },
       [](double u) { return -2.0 * u * kTwoOverSqrtPi * std::exp(-u * u); }},
      {"linear", [](double u) { return u; }, [](double) { return 1.0; },
       [](double) { return 0.0; }},
  };
  return t;
}

}  // namespace

std::vector<std::string> activation_function_names() {
  std::vector<std::string> names;
  for (const auto& a : table()) names.push_back(a.name);
  return names;
}

const ActivationFunctions& activation_functions(const std::string& name) {
  for (const auto& a : table())
    if (a.name == name) return a;
  throw UsageError(fmt::format("unknown activation '{}' (known: {})", name,
                               fmt::join(activation_function_names(), ", ")));
}

}  // namespace octrain::analysis
