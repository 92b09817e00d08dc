#include "octrain/dist/communicator.h"

#include <torch/utils.h>

#include <map>

namespace octrain::dist {

void Communicator::all_reduce_sum(std::vector<torch::Tensor>& tensors) {
  if (!distributed() || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  // One bucket per dtype and device, in order of first appearance so every rank packs alike.
  std::vector<std::vector<size_t>> buckets;
  std::map<std::pair<int, std::string>, size_t> bucket_of;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto key = std::make_pair(int(tensors[i].scalar_type()), tensors[i].device().str());
    auto [it, added] = bucket_of.emplace(key, buckets.size());
    if (added) buckets.emplace_back();
    buckets[it->second].push_back(i);
  }
  for (const auto& bucket : buckets) {
    std::vector<torch::Tensor> flat;
    for (size_t i : bucket) flat.push_back(tensors[i].reshape({-1}));
    auto buffer = torch::cat(flat);
    all_reduce_flat(buffer);
    int64_t at = 0;
    for (size_t i : bucket) {
      const int64_t n = tensors[i].numel();
      tensors[i].copy_(buffer.slice(0, at, at + n).view(tensors[i].sizes()));
      at += n;
    }
  }
}

void Communicator::all_reduce_sum(torch::Tensor& tensor) {
  std::vector<torch::Tensor> one{tensor};
  all_reduce_sum(one);
}

void Communicator::all_reduce_sum(std::vector<double>& values) {
  if (!distributed() || values.empty()) return;
  auto buffer = torch::tensor(values, torch::kFloat64);
  all_reduce_flat(buffer);
  const auto* data = buffer.data_ptr<double>();
  values.assign(data, data + values.size());
}

void Communicator::all_reduce_mean(std::vector<torch::Tensor>& tensors) {
  if (!distributed()) return;
  all_reduce_sum(tensors);
  for (auto& t : tensors) t.div_(double(world_size()));
}

void Communicator::all_reduce_mean(std::vector<double>& values) {
  if (!distributed()) return;
  all_reduce_sum(values);
  for (auto& v : values) v /= double(world_size());
}

void Communicator::broadcast_bytes(std::string& bytes, int root) {
  if (!distributed()) return;
  std::vector<torch::Tensor> size{torch::tensor({int64_t(bytes.size())}, torch::kInt64)};
  broadcast(size, root);
  const int64_t n = size[0].item<int64_t>();
  std::vector<torch::Tensor> data{torch::empty({n}, torch::kUInt8)};
  if (rank() == root) std::memcpy(data[0].data_ptr(), bytes.data(), size_t(n));
  broadcast(data, root);
  bytes.assign(static_cast<const char*>(data[0].data_ptr()), size_t(n));
}

namespace {

class SingleProcessCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void broadcast(std::vector<torch::Tensor>&, int) override {}
  void barrier() override {}

 protected:
  void all_reduce_flat(torch::Tensor&) override {}
};

}  // namespace

std::unique_ptr<Communicator> make_single_process_communicator() {
  return std::make_unique<SingleProcessCommunicator>();
}

}  // namespace octrain::dist
