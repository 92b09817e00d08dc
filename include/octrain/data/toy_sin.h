#pragma once

#include <cstdint>

#include "octrain/data/dataset_builder.h"

namespace octrain::data {

// The regression toy problem y = sin(x), x ~ U(-pi, pi): 100 training and 100 test points,
// x and y both [N, 1]. Drawn from SeededRng(derive_seed(seed, 4)), training points first, so a
// seed gives the same points on every machine.
constexpr int64_t kToySinPoints = 100;
RawDataset make_toy_sin(uint64_t seed);

}  // namespace octrain::data
