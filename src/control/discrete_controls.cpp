#include "octrain/control/discrete_controls.h"

#include <fmt/format.h>
#include <torch/utils.h>

#include "octrain/control/network.h"
#include "octrain/control/shapes_only.h"
#include "octrain/util/error.h"

namespace octrain::control {

torch::Tensor random_discrete(torch::IntArrayRef shape, ControlSet set) {
  switch (set) {
    case ControlSet::kBinary:
      return torch::randint(0, 2, shape, control_tensor_options().dtype(torch::kFloat32))
          .mul_(2)
          .sub_(1);
    case ControlSet::kTernary:
      return torch::randint(0, 3, shape, control_tensor_options().dtype(torch::kFloat32)).sub_(1);
    case ControlSet::kReal:
      break;
  }
  throw std::logic_error("random_discrete: the real control set has no uniform distribution");
}

ControlSet parse_control_set(const std::string& text, const std::string& owner) {
  if (text == "real") return ControlSet::kReal;
  if (text == "binary") return ControlSet::kBinary;
  if (text == "ternary") return ControlSet::kTernary;
  throw UsageError(
      fmt::format("{}: control set '{}' is unknown (known: real, binary, ternary)", owner, text));
}

bool in_control_set(const torch::Tensor& theta, ControlSet set) {
  torch::NoGradGuard no_grad;
  switch (set) {
    case ControlSet::kReal:
      return true;
    case ControlSet::kBinary:
      return theta.abs().eq(1).all().item<bool>();
    case ControlSet::kTernary:
      return (theta.eq(0) | theta.abs().eq(1)).all().item<bool>();
  }
  return false;
}

std::map<std::string, double> nonzero_fractions(Network& network) {
  torch::NoGradGuard no_grad;
  std::map<std::string, double> out;
  double nonzero = 0, total = 0;
  for (size_t t = 0; t < network.size(); ++t) {
    Stage& stage = network.stage(t);
    if (stage.control_set() == ControlSet::kReal) continue;
    double stage_nonzero = 0, stage_total = 0;
    for (const auto& theta : stage.controls()) {
      stage_nonzero += double(theta.count_nonzero().item<int64_t>());
      stage_total += double(theta.numel());
    }
    out[fmt::format("stage{}.nonzero", t)] = stage_nonzero / stage_total;
    nonzero += stage_nonzero, total += stage_total;
  }
  if (total > 0) out["nonzero"] = nonzero / total;
  return out;
}

}  // namespace octrain::control
