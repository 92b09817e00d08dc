#include "octrain/data/split.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace octrain::data {
namespace {

void seeded_shuffle(std::vector<int64_t>& items, SeededRng& rng) {
  // Fisher-Yates, written out because std::shuffle's draws differ between standard libraries.
  for (size_t i = items.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng.below(i));
    std::swap(items[i - 1], items[j]);
  }
}

IndexSplit complement(int64_t n, std::vector<int64_t> picked) {
  std::sort(picked.begin(), picked.end());
  std::vector<bool> is_picked(static_cast<size_t>(n), false);
  for (int64_t i : picked) is_picked[static_cast<size_t>(i)] = true;
  IndexSplit split;
  split.picked = std::move(picked);
  split.rest.reserve(static_cast<size_t>(n) - split.picked.size());
  for (int64_t i = 0; i < n; ++i) {
    if (!is_picked[static_cast<size_t>(i)]) split.rest.push_back(i);
  }
  return split;
}

}  // namespace

uint64_t SeededRng::below(uint64_t bound) {
  // Rejection sampling removes the modulo bias; the rejected zone is < bound out of 2^64.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t value = engine_();
  while (value >= limit) value = engine_();
  return value % bound;
}

double SeededRng::uniform01() {
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int64_t fraction_count(int64_t n, double fraction) {
  return static_cast<int64_t>(std::floor(static_cast<double>(n) * fraction + 0.5));
}

IndexSplit stratified_pick(const torch::Tensor& labels, int64_t count, uint64_t seed) {
  const torch::Tensor contiguous = labels.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t n = contiguous.numel();
  count = std::clamp<int64_t>(count, 0, n);
  const int64_t* label = contiguous.data_ptr<int64_t>();
  const int64_t num_classes = n == 0 ? 0 : *std::max_element(label, label + n) + 1;

  std::vector<std::vector<int64_t>> members(static_cast<size_t>(num_classes));
  for (int64_t i = 0; i < n; ++i) members[static_cast<size_t>(label[i])].push_back(i);

  // Largest-remainder apportionment of `count` over the classes, in exact integer arithmetic.
  std::vector<int64_t> quota(members.size());
  std::vector<int64_t> remainder(members.size());
  int64_t assigned = 0;
  for (size_t c = 0; c < members.size(); ++c) {
    const int64_t share = static_cast<int64_t>(members[c].size()) * count;
    quota[c] = share / n;
    remainder[c] = share % n;
    assigned += quota[c];
  }
  std::vector<size_t> by_remainder(members.size());
  std::iota(by_remainder.begin(), by_remainder.end(), 0);
  std::stable_sort(by_remainder.begin(), by_remainder.end(),
                   [&](size_t a, size_t b) { return remainder[a] > remainder[b]; });
  for (size_t k = 0; assigned < count; ++k, ++assigned) ++quota[by_remainder[k]];

  SeededRng rng(seed);
  std::vector<int64_t> picked;
  picked.reserve(static_cast<size_t>(count));
  for (size_t c = 0; c < members.size(); ++c) {
    seeded_shuffle(members[c], rng);
    picked.insert(picked.end(), members[c].begin(), members[c].begin() + quota[c]);
  }
  return complement(n, std::move(picked));
}

IndexSplit random_pick(int64_t n, int64_t count, uint64_t seed) {
  count = std::clamp<int64_t>(count, 0, n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  SeededRng rng(seed);
  seeded_shuffle(order, rng);
  order.resize(static_cast<size_t>(count));
  return complement(n, std::move(order));
}

Split take_rows(const Split& split, const std::vector<int64_t>& indices) {
  const torch::Tensor index = torch::tensor(indices, torch::kLong);
  return Split{split.x.index_select(0, index), split.y.index_select(0, index)};
}

}  // namespace octrain::data
