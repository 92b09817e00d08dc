#include "octrain/control/initialiser.h"

#include <fmt/format.h>
#include <torch/nn/init.h>

#include <cmath>

#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/control/residual.h"
#include "octrain/util/error.h"
#include "octrain/util/options.h"

namespace octrain::control {
namespace {

void initialise_linear(torch::Tensor weight, torch::Tensor bias, const Initialiser& init) {
  torch::NoGradGuard no_grad;
  const int64_t fan_in = weight.numel() / weight.size(0);
  switch (init.kind) {
    case Initialiser::Kind::kDefault:
      return;
    case Initialiser::Kind::kZeros:
      weight.zero_();
      if (bias.defined()) bias.zero_();
      return;
    case Initialiser::Kind::kNormal:
      weight.normal_(0.0, std::sqrt(init.sigma_w2 / double(fan_in)));
      break;
    case Initialiser::Kind::kOrthogonal: {
      auto flat = weight.view({weight.size(0), fan_in});
      torch::nn::init::orthogonal_(flat, std::sqrt(init.sigma_w2));
      break;
    }
  }
  if (bias.defined()) {
    if (init.sigma_b2 > 0)
      bias.normal_(0.0, std::sqrt(init.sigma_b2));
    else
      bias.zero_();
  }
}

void initialise_stage(Stage& stage, const Initialiser& init) {
  if (stage.control_set() != ControlSet::kReal)
    return;  // discrete weights start uniform on the set
  if (auto* dense = dynamic_cast<DenseStage*>(&stage))
    initialise_linear(dense->weight, dense->bias, init);
  if (auto* conv = dynamic_cast<Conv2dStage*>(&stage))
    initialise_linear(conv->weight, conv->bias, init);
  if (auto* residual = dynamic_cast<ResidualStage*>(&stage))
    initialise_stage(residual->inner(), init);
}

}  // namespace

Initialiser parse_initialiser(const std::map<std::string, std::string>& options) {
  std::map<std::string, std::string> known;
  for (const char* key : {"init", "sw2", "sb2"}) {
    auto it = options.find(key);
    if (it != options.end()) known[key] = it->second;
  }
  const auto values =
      OptionSchema("initialiser")
          .choice("init", "default", {"default", "zeros", "normal", "orthogonal"},
                  "how weights start")
          .real("sw2", 1.0, "σ_w²: weight variance × fan-in (normal, orthogonal)", 0, 1e6)
          .real("sb2", 0.0, "σ_b²: bias variance (normal, orthogonal)", 0, 1e6)
          .parse(known);
  Initialiser init;
  const auto& kind = values.text("init");
  init.kind = kind == "zeros"        ? Initialiser::Kind::kZeros
              : kind == "normal"     ? Initialiser::Kind::kNormal
              : kind == "orthogonal" ? Initialiser::Kind::kOrthogonal
                                     : Initialiser::Kind::kDefault;
  init.sigma_w2 = values.real("sw2");
  init.sigma_b2 = values.real("sb2");
  return init;
}

std::string to_string(const Initialiser& init) {
  switch (init.kind) {
    case Initialiser::Kind::kDefault:
      return "default";
    case Initialiser::Kind::kZeros:
      return "zeros";
    case Initialiser::Kind::kNormal:
      return fmt::format("normal(σ_w²={}, σ_b²={})", format_real(init.sigma_w2),
                         format_real(init.sigma_b2));
    case Initialiser::Kind::kOrthogonal:
      return fmt::format("orthogonal(σ_w²={}, σ_b²={})", format_real(init.sigma_w2),
                         format_real(init.sigma_b2));
  }
  return "?";
}

void initialise(Network& network, const Initialiser& init) {
  for (size_t t = 0; t < network.size(); ++t) initialise_stage(network.stage(t), init);
}

}  // namespace octrain::control
