#include "octrain/methods/registry.h"

#include <fmt/format.h>

#include "octrain/control/network.h"
#include "octrain/methods/ddpnopt.h"
#include "octrain/methods/discrete_msa.h"
#include "octrain/methods/gradient_method.h"
#include "octrain/methods/kronecker_method.h"
#include "octrain/methods/quantised_gradient.h"
#include "octrain/methods/successive_approximation.h"
#include "octrain/util/error.h"

namespace octrain::methods {

namespace {

// The catalogue entry of a method class whose constructor takes (name, options, network).
template <typename Kind>
MethodInfo entry(const std::string& name, const std::string& summary) {
  return {name, summary, Kind::schema_for(name),
          [name](OptionValues options, control::Network& network) -> std::unique_ptr<Method> {
            return std::make_unique<Kind>(name, std::move(options), network);
          }};
}

}  // namespace

const std::vector<MethodInfo>& method_catalogue() {
  static const std::vector<MethodInfo> catalogue = {
      entry<GradientMethod>("sgd", "stochastic gradient descent with optional (Nesterov) momentum"),
      entry<GradientMethod>("adagrad", "Adagrad (Duchi et al. 2011)"),
      entry<GradientMethod>("rmsprop", "RMSprop (Tieleman & Hinton 2012)"),
      entry<GradientMethod>("adam", "Adam (Kingma & Ba 2015)"),
      entry<KroneckerMethod>("kfac",
                             "K-FAC: Kronecker-factored natural gradient (Martens & Grosse 2015)"),
      entry<KroneckerMethod>(
          "ekfac", "EKFAC: K-FAC rescaled in the factors' eigenbasis (George et al. 2018)"),
      entry<SuccessiveApproximation>(
          "msa", "basic method of successive approximations: per-stage Hamiltonian maximisation"),
      entry<SuccessiveApproximation>(
          "emsa", "extended MSA: per-stage augmented-Hamiltonian minimisation (Li et al. 2018)"),
      entry<Ddpnopt>("ddpnopt",
                     "DDPNOpt: layer-wise feedback policies from differential dynamic programming"),
      entry<Ddpnopt>("ddp", "vanilla DDP with the exact Gauss-Newton Q_uu (small dense nets)"),
      {"msa-discrete", "discrete-weight MSA for binary/ternary stages (Li & Hao 2018)",
       DiscreteMsa::schema(),
       [](OptionValues options, control::Network& network) -> std::unique_ptr<Method> {
         return std::make_unique<DiscreteMsa>(std::move(options), network);
       }},
      entry<QuantisedGradient>("binaryconnect",
                               "BinaryConnect: sign of clipped latent weights, straight-through"),
      entry<QuantisedGradient>(
          "bwn", "binary weight networks: α·sign(w) per output unit, straight-through"),
      entry<QuantisedGradient>(
          "twn", "ternary weight networks: threshold 0.7·mean|w|, α per output, straight-through"),
  };
  return catalogue;
}

const MethodInfo& find_method(const std::string& name) {
  for (const auto& info : method_catalogue())
    if (info.name == name) return info;
  std::vector<std::string> names;
  for (const auto& info : method_catalogue()) names.push_back(info.name);
  throw UsageError(fmt::format("unknown method '{}' (known: {})", name, fmt::join(names, ", ")));
}

std::unique_ptr<Method> make_method(const std::string& name,
                                    const std::map<std::string, std::string>& options,
                                    control::Network& network) {
  const auto& info = find_method(name);
  return info.make(info.schema.parse(options), network);
}

std::unique_ptr<Method> make_method(const std::string& spec, control::Network& network) {
  const auto named = parse_named_spec(spec);
  return make_method(named.name, named.options, network);
}

}  // namespace octrain::methods
