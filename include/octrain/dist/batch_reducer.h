#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace octrain::dist {

class Communicator;

// One rank's share of a global batch and the reductions that turn its local batch statistics into
// the global ones. Every rank holds a disjoint slice [offset, offset + local) of the same global
// batch of `global` samples; a local batch mean m_r becomes the global mean Σ_r
// (local_r/global)·m_r, so ranks with uneven slices (a last batch not divisible by the world size)
// still reproduce the one-process numbers. With one process every call is a no-op.
class BatchReducer {
 public:
  explicit BatchReducer(Communicator& communicator);
  // The reducer of a single process, for methods run outside a trainer.
  static const BatchReducer& single_process();

  // Set by the trainer before every step (and evaluation chunk).
  void set_shard(int64_t offset, int64_t local, int64_t global);
  int64_t offset() const { return offset_; }
  int64_t local_size() const { return local_; }
  int64_t global_size() const { return global_; }
  // local/global: this rank's weight in a global mean.
  double weight() const;
  bool distributed() const;
  Communicator& communicator() const { return *communicator_; }

  // Local batch means → global batch means, in place, in one collective.
  void mean(std::vector<torch::Tensor>& local_means) const;
  void mean(torch::Tensor& local_mean) const;
  void mean(std::vector<double>& local_means) const;
  double mean(double local_mean) const;
  // Local sums over this rank's samples → sums over the global batch, in place.
  void sum(std::vector<torch::Tensor>& local_sums) const;
  void sum(torch::Tensor& local_sum) const;
  void sum(std::vector<double>& local_sums) const;
  double sum(double local_sum) const;

 private:
  Communicator* communicator_;
  int64_t offset_ = 0, local_ = 0, global_ = 0;
};

// The slice of a global batch of `global` samples that `rank` of `world` holds: contiguous,
// sizes differing by at most one (the first global % world ranks hold one more).
struct Shard {
  int64_t offset = 0, size = 0;
};
Shard shard_of(int64_t global, int rank, int world);

}  // namespace octrain::dist
