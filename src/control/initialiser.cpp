#include "octrain/control/initialiser.h"

#include <fmt/format.h>
#include <torch/nn/init.h>
#include <torch/utils.h>

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
    case Initialiser::Kind::kTruncatedNormal: {
      // Redraw the entries beyond two standard deviations until none is left (each pass keeps
      // about 95 %, so a handful of passes).
      weight.normal_(0.0, init.std);
      for (auto outside = weight.abs() > 2 * init.std; outside.any().item<bool>();
           outside = weight.abs() > 2 * init.std)
        weight.copy_(torch::where(outside, torch::randn_like(weight) * init.std, weight));
      if (bias.defined()) bias.fill_(init.bias_value);
      return;
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

const std::vector<std::string>& initialiser_keys() {
  static const std::vector<std::string> keys = {"init", "sw2", "sb2", "std", "bias_value"};
  return keys;
}

Initialiser parse_initialiser(const std::map<std::string, std::string>& options) {
  std::map<std::string, std::string> known;
  for (const auto& key : initialiser_keys()) {
    auto it = options.find(key);
    if (it != options.end()) known[key] = it->second;
  }
  const auto values =
      OptionSchema("initialiser")
          .choice("init", "default",
                  {"default", "zeros", "normal", "orthogonal", "truncated-normal"},
                  "how weights start")
          .real("sw2", 1.0, "σ_w²: weight variance × fan-in (normal, orthogonal)", 0, 1e6)
          .real("sb2", 0.0, "σ_b²: bias variance (normal, orthogonal)", 0, 1e6)
          .real("std", 0.05, "weight standard deviation (truncated-normal)", 0, 1e3)
          .real("bias_value", 0.0, "every bias (truncated-normal)", -1e3, 1e3)
          .parse(known);
  Initialiser init;
  const auto& kind = values.text("init");
  init.kind = kind == "zeros"              ? Initialiser::Kind::kZeros
              : kind == "normal"           ? Initialiser::Kind::kNormal
              : kind == "orthogonal"       ? Initialiser::Kind::kOrthogonal
              : kind == "truncated-normal" ? Initialiser::Kind::kTruncatedNormal
                                           : Initialiser::Kind::kDefault;
  init.sigma_w2 = values.real("sw2");
  init.sigma_b2 = values.real("sb2");
  init.std = values.real("std");
  init.bias_value = values.real("bias_value");
  const bool truncated = init.kind == Initialiser::Kind::kTruncatedNormal;
  for (const char* key : {"std", "bias_value"})
    if (known.count(key) && !truncated)
      throw UsageError(fmt::format("initialiser: '{}' is an option of init=truncated-normal", key));
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
    case Initialiser::Kind::kTruncatedNormal:
      return fmt::format("truncated-normal(std={}, bias={})", format_real(init.std),
                         format_real(init.bias_value));
  }
  return "?";
}

void initialise(Network& network, const Initialiser& init) {
  for (size_t t = 0; t < network.size(); ++t) initialise_stage(network.stage(t), init);
}

}  // namespace octrain::control
