#include "octrain/analysis/activation_functions.h"

#include <fmt/format.h>

#include "octrain/control/activation_formulas.h"
#include "octrain/util/error.h"

namespace octrain::analysis {
namespace {

using control::Activation;

// φ, φ' and φ'' of one network activation, from the formulas the networks use.
template <Activation A>
double phi(double u) {
  return control::formulas::value(A, u);
}
template <Activation A>
double dphi(double u) {
  return control::formulas::slope(A, u, phi<A>(u));
}
template <Activation A>
double d2phi(double u) {
  return control::formulas::curvature(A, u, phi<A>(u));
}
template <Activation A>
ActivationFunctions entry(const std::string& name) {
  return {name, phi<A>, dphi<A>, d2phi<A>};
}

// Every network activation, under its network name except the identity ("linear", which the
// model specs accept too). ReLU's derivatives are taken as 0 at u = 0; with even Gauss–Hermite
// rules no node sits there.
const std::vector<ActivationFunctions>& table() {
  static const std::vector<ActivationFunctions> t = {
      entry<Activation::kTanh>("tanh"),       entry<Activation::kRelu>("relu"),
      entry<Activation::kSigmoid>("sigmoid"), entry<Activation::kSoftplus>("softplus"),
      entry<Activation::kErf>("erf"),         entry<Activation::kIdentity>("linear"),
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
