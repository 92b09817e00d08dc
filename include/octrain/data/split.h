#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "octrain/data/dataset.h"

namespace octrain::data {

// A random stream that gives the same numbers on every platform for a given seed:
// std::mt19937_64's output is fixed by the C++ standard, while std::uniform_int_distribution,
// std::shuffle and friends are not, so indices and reals are drawn from the raw output here.
class SeededRng {
 public:
  explicit SeededRng(uint64_t seed) : engine_(seed) {}
  uint64_t next() { return engine_(); }
  uint64_t below(uint64_t bound);  // uniform in [0, bound), bound > 0
  double uniform01();              // uniform in [0, 1), 53 random bits

 private:
  std::mt19937_64 engine_;
};

// An independent seed for the `stream`-th use of one user seed (SplitMix64 finaliser), so the
// test split, the subsets and the validation split do not reuse one random sequence.
uint64_t derive_seed(uint64_t seed, uint64_t stream);

// round(n * fraction), halves rounded up; the number of samples a fraction asks for.
int64_t fraction_count(int64_t n, double fraction);

struct IndexSplit {
  std::vector<int64_t> picked;  // ascending
  std::vector<int64_t> rest;    // ascending
};

// Picks `count` of the samples with class labels `labels` (int64 [N]) so that every class keeps
// its share: class c gets floor(n_c * count / N) samples plus one more for the classes with the
// largest remainders, so each class is within one sample of its exact proportion and the total
// is exactly `count`. Which samples of a class are picked is a seeded shuffle.
IndexSplit stratified_pick(const torch::Tensor& labels, int64_t count, uint64_t seed);

// The same without classes (regression): a seeded choice of `count` of `n` samples.
IndexSplit random_pick(int64_t n, int64_t count, uint64_t seed);

// Rows `indices` of both tensors of a split.
Split take_rows(const Split& split, const std::vector<int64_t>& indices);

}  // namespace octrain::data
