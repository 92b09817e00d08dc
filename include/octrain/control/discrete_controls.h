#pragma once

#include <torch/types.h>

#include <map>
#include <string>

#include "octrain/control/stage.h"

namespace octrain::control {

class Network;

// Weights of a Binary {−1,+1} or Ternary {−1,0,+1} stage (docs/methods/discrete-msa.md), drawn
// i.i.d. uniformly over the set from torch's global generator.
torch::Tensor random_discrete(torch::IntArrayRef shape, ControlSet set);

// Parses "real" | "binary" | "ternary"; throws UsageError naming `owner`.
ControlSet parse_control_set(const std::string& text, const std::string& owner);

// True when every entry of `theta` lies in `set` (always true for kReal).
bool in_control_set(const torch::Tensor& theta, ControlSet set);

// Per-epoch statistics of the discrete stages: "nonzero_t<T>" (fraction of non-zero weights of
// stage T) and "nonzero" (over all discrete weights). Empty when the network has none.
std::map<std::string, double> nonzero_fractions(Network& network);

}  // namespace octrain::control
