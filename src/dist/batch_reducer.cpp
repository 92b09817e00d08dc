#include "octrain/dist/batch_reducer.h"

#include <torch/utils.h>

#include "octrain/dist/communicator.h"

namespace octrain::dist {

BatchReducer::BatchReducer(Communicator& communicator) : communicator_(&communicator) {}

const BatchReducer& BatchReducer::single_process() {
  static const auto communicator = make_single_process_communicator();
  static const BatchReducer reducer(*communicator);
  return reducer;
}

void BatchReducer::set_shard(int64_t offset, int64_t local, int64_t global) {
  offset_ = offset;
  local_ = local;
  global_ = global;
}

double BatchReducer::weight() const {
  return global_ > 0 ? double(local_) / double(global_) : 1.0;
}

bool BatchReducer::distributed() const {
  return communicator_->distributed();
}

void BatchReducer::mean(std::vector<torch::Tensor>& local_means) const {
  if (!distributed()) return;  // one process: the local mean is the global one, bit for bit
  torch::NoGradGuard no_grad;
  for (auto& m : local_means) m.mul_(weight());
  communicator_->all_reduce_sum(local_means);
}

void BatchReducer::mean(torch::Tensor& local_mean) const {
  std::vector<torch::Tensor> one{local_mean};
  mean(one);
}

void BatchReducer::mean(std::vector<double>& local_means) const {
  if (!distributed()) return;
  for (auto& m : local_means) m *= weight();
  communicator_->all_reduce_sum(local_means);
}

double BatchReducer::mean(double local_mean) const {
  std::vector<double> one{local_mean};
  mean(one);
  return one[0];
}

void BatchReducer::sum(std::vector<torch::Tensor>& local_sums) const {
  communicator_->all_reduce_sum(local_sums);
}

void BatchReducer::sum(torch::Tensor& local_sum) const {
  communicator_->all_reduce_sum(local_sum);
}

void BatchReducer::sum(std::vector<double>& local_sums) const {
  communicator_->all_reduce_sum(local_sums);
}

double BatchReducer::sum(double local_sum) const {
  std::vector<double> one{local_sum};
  sum(one);
  return one[0];
}

Shard shard_of(int64_t global, int rank, int world) {
  const int64_t base = global / world, extra = global % world;
  return {rank * base + std::min<int64_t>(rank, extra), base + (rank < extra ? 1 : 0)};
}

}  // namespace octrain::dist
