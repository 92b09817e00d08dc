#include "octrain/data/toy_sin.h"

#include <cmath>

#include "octrain/data/split.h"

namespace octrain::data {
namespace {

constexpr double kPi = 3.14159265358979323846;  // M_PI is POSIX, not standard C++17

Split draw(SeededRng& rng, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double point = kPi * (2.0 * rng.uniform01() - 1.0);
    x[static_cast<size_t>(i)] = static_cast<float>(point);
    y[static_cast<size_t>(i)] = static_cast<float>(std::sin(point));
  }
  return {torch::tensor(x, torch::kFloat).reshape({n, 1}),
          torch::tensor(y, torch::kFloat).reshape({n, 1})};
}

}  // namespace

RawDataset make_toy_sin(uint64_t seed) {
  RawDataset raw;
  raw.task = Task::kRegression;
  raw.input_shape = {1};
  raw.target_dim = 1;
  SeededRng rng(derive_seed(seed, 4));
  raw.train = draw(rng, kToySinPoints);
  raw.test = draw(rng, kToySinPoints);
  raw.has_official_test = true;
  for (const Split* split : {&raw.train, &raw.test}) {
    raw.provenance.record_generated("x", split->x.data_ptr(), split->x.nbytes());
    raw.provenance.record_generated("y", split->y.data_ptr(), split->y.nbytes());
  }
  raw.metadata["format"] = "generated";
  raw.metadata["generator"] =
      "x ~ U(-pi, pi) from mt19937_64(derive_seed(seed, 4)), y = sin(x); 100 train then 100 test";
  raw.metadata["generator_seed"] = seed;
  return raw;
}

}  // namespace octrain::data
