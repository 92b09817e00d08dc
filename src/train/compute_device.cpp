#include "octrain/train/compute_device.h"

#include <fmt/format.h>
#include <torch/cuda.h>

#include <optional>

#include "octrain/util/error.h"

namespace octrain::train {

torch::Device parse_compute_device(const std::string& text) {
  std::optional<torch::Device> device;
  try {
    device = torch::Device(text);
  } catch (const std::exception&) {
    throw UsageError(
        fmt::format("config 'device' = '{}' is invalid: expected cpu, cuda or cuda:N", text));
  }
  if (device->is_cuda()) {
    if (!torch::cuda::is_available())
      throw UsageError(
          fmt::format("config 'device' = '{}': CUDA is not available on this machine", text));
    if (device->has_index() && device->index() >= int64_t(torch::cuda::device_count()))
      throw UsageError(fmt::format("config 'device' = '{}': this machine has {} CUDA device(s)",
                                   text, torch::cuda::device_count()));
  } else if (!device->is_cpu()) {
    throw UsageError(
        fmt::format("config 'device' = '{}' is invalid: expected cpu, cuda or cuda:N", text));
  }
  return *device;
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

}  // namespace octrain::train
