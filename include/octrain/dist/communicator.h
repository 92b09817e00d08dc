#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace octrain::dist {

// What one process has sent through its collectives so far (the per-step figures of a run).
struct CommunicationStats {
  int64_t calls = 0;     // collectives issued
  int64_t bytes = 0;     // payload bytes of those collectives (each rank's own buffer)
  double seconds = 0.0;  // wall time spent inside them, waiting for peers included
};

// The collectives octrain's data-parallel training needs (docs/DISTRIBUTED.md), on c10d process
// groups or, for one process, on nothing at all: the same code runs in both, and with one process
// every call returns at once and leaves its arguments untouched.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  bool distributed() const { return world_size() > 1; }

  // Element-wise sums over the ranks, in place. The tensors travel as one flat buffer per dtype
  // (one collective for the usual all-float list), not one collective per tensor.
  void all_reduce_sum(std::vector<torch::Tensor>& tensors);
  void all_reduce_sum(torch::Tensor& tensor);
  void all_reduce_sum(std::vector<double>& values);
  // Element-wise means over the ranks (the sum divided by the world size).
  void all_reduce_mean(std::vector<torch::Tensor>& tensors);
  void all_reduce_mean(std::vector<double>& values);
  // Root's tensors (same shapes and dtypes on every rank) into every rank's, in place.
  virtual void broadcast(std::vector<torch::Tensor>& tensors, int root) = 0;
  // Root's bytes into every rank's `bytes` (other ranks' sizes need not match).
  void broadcast_bytes(std::string& bytes, int root);
  virtual void barrier() = 0;

  const CommunicationStats& stats() const { return stats_; }

 protected:
  // One contiguous buffer summed over the ranks in place.
  virtual void all_reduce_flat(torch::Tensor& buffer) = 0;
  CommunicationStats stats_;
};

// The one-process communicator: rank 0 of 1.
std::unique_ptr<Communicator> make_single_process_communicator();

}  // namespace octrain::dist
