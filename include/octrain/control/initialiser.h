#pragma once

#include <map>
#include <string>
#include <vector>

#include "octrain/control/network.h"

namespace octrain::control {

// How Dense and Conv2d controls (also inside Residual stages) start.
//   default:    libtorch's defaults (U(±1/√fan_in))
//   zeros:      all zero (the E-MSA toy's flat start)
//   normal:     W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²)  (docs/methods/meanfield.md)
//   orthogonal: W = σ_w·Q with Q orthogonal (conv: over [out, in·k·k]), b ~ N(0, σ_b²)
//   truncated-normal: W ~ N(0, std²) redrawn beyond ±2·std (TensorFlow's truncated_normal, as
//               the DeepOBS problems use), b = bias_value
struct Initialiser {
  enum class Kind { kDefault, kZeros, kNormal, kOrthogonal, kTruncatedNormal };
  Kind kind = Kind::kDefault;
  double sigma_w2 = 1.0;
  double sigma_b2 = 0.0;
  double std = 0.05;        // truncated-normal: the weights' standard deviation before truncation
  double bias_value = 0.0;  // truncated-normal: every bias
};

// The option keys an initialiser reads from a model spec.
const std::vector<std::string>& initialiser_keys();
// From the options initialiser_keys() names (unknown keys are left for the caller).
Initialiser parse_initialiser(const std::map<std::string, std::string>& options);
std::string to_string(const Initialiser& init);

// Uses torch's global generator: seed it first for reproducible weights.
void initialise(Network& network, const Initialiser& init);

}  // namespace octrain::control
