#pragma once

#include <memory>
#include <string>

#include "octrain/control/network.h"

namespace octrain::control {

// Builds a network for inputs of `input_shape` from a compact spec or a TOML file:
//   mlp:784-256-256-10[:tanh][:init=normal,sw2=1.5,sb2=0.05,bn=true]   ("256x2" = "256-256")
//   mlp:…:weights=binary|ternary   discrete Dense/Conv2d without bias, each followed by batch
//       norm (ε 1e-4), the output layer too; bmlp:/tmlp:/bcnn:/tcnn: are the binary/ternary
//       mlp/cnn with ReLU, e.g. tmlp:784-2048x3-10 (docs/methods/discrete-msa.md)
//   resmlp:13-32x4-3[:tanh][:delta=0.5]        Dense 13→32, 4 residual dense stages, Dense 32→3
//   resmlp:1-5x20-1:tanh:delta=0.25:io=fixed:init=zeros   the E-MSA toy: x tiled into 5
//       coordinates, 20 residual stages, output the sum of the coordinates
//   cnn:conv32x3-maxpool2-res32x3-chmean-fc64-10[:relu]
//       tokens: convCxK[sS] (padding K/2), resCxK, avgpoolK, maxpoolK, chmean, flatten, bn, fcN;
//       a bare final number is the output layer; Flatten is inserted before the first fc.
//   path/to/model.toml                          a list of [[stage]] tables (README.md, "Models")
// The activation (default relu for cnn, tanh otherwise) follows every hidden Dense/Conv2d.
// Throws UsageError naming the bad token or key. Seed torch's generator first.
std::shared_ptr<Network> build_network(const std::string& spec, const Shape& input_shape);
// The same network on the meta device (shapes_only.h): every stage, shape and control count, no
// storage and no initialisation, so `mlp:784-100000000-10` costs nothing to plan. Leaves torch's
// generator untouched.
std::shared_ptr<Network> plan_network(const std::string& spec, const Shape& input_shape);

}  // namespace octrain::control
