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

const std::vector<MethodInfo>& method_catalogue() {
  static const std::vector<MethodInfo> catalogue = {
      {"sgd", "stochastic gradient descent with optional (Nesterov) momentum",
       GradientMethod::schema_for("sgd")},
      {"adagrad", "Adagrad (Duchi et al. 2011)", GradientMethod::schema_for("adagrad")},
      {"rmsprop", "RMSprop (Tieleman & Hinton 2012)", GradientMethod::schema_for("rmsprop")},
      {"adam", "Adam (Kingma & Ba 2015)", GradientMethod::schema_for("adam")},
      {"kfac", "K-FAC: Kronecker-factored natural gradient (Martens & Grosse 2015)",
       KroneckerMethod::schema_for("kfac")},
      {"ekfac", "EKFAC: K-FAC rescaled in the factors' eigenbasis (George et al. 2018)",
       KroneckerMethod::schema_for("ekfac")},
      {"msa", "basic method of successive approximations: per-stage Hamiltonian maximisation",
       SuccessiveApproximation::schema_for("msa")},
      {"emsa", "extended MSA: per-stage augmented-Hamiltonian minimisation (Li et al. 2018)",
       SuccessiveApproximation::schema_for("emsa")},
      {"ddpnopt", "DDPNOpt: layer-wise feedback policies from differential dynamic programming",
       Ddpnopt::schema_for("ddpnopt")},
      {"ddp", "vanilla DDP with the exact Gauss-Newton Q_uu (small dense nets)",
       Ddpnopt::schema_for("ddp")},
      {"msa-discrete", "discrete-weight MSA for binary/ternary stages (Li & Hao 2018)",
       DiscreteMsa::schema()},
      {"binaryconnect", "BinaryConnect: sign of clipped latent weights, straight-through",
       QuantisedGradient::schema_for("binaryconnect")},
      {"bwn", "binary weight networks: α·sign(w) per output unit, straight-through",
       QuantisedGradient::schema_for("bwn")},
      {"twn", "ternary weight networks: threshold 0.7·mean|w|, α per output, straight-through",
       QuantisedGradient::schema_for("twn")},
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
  auto values = find_method(name).schema.parse(options);
  if (name == "msa" || name == "emsa")
    return std::make_unique<SuccessiveApproximation>(name, std::move(values), network);
  if (name == "ddpnopt" || name == "ddp")
    return std::make_unique<Ddpnopt>(name, std::move(values), network);
  if (name == "kfac" || name == "ekfac")
    return std::make_unique<KroneckerMethod>(name, std::move(values), network);
  if (name == "msa-discrete") return std::make_unique<DiscreteMsa>(std::move(values), network);
  if (QuantisedGradient::is_quantised_baseline(name))
    return std::make_unique<QuantisedGradient>(name, std::move(values), network);
  return std::make_unique<GradientMethod>(name, std::move(values), network);
}

std::unique_ptr<Method> make_method(const std::string& spec, control::Network& network) {
  const auto named = parse_named_spec(spec);
  return make_method(named.name, named.options, network);
}

}  // namespace octrain::methods
