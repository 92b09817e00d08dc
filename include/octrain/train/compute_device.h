#pragma once

#include <torch/types.h>

#include <string>

namespace octrain::train {

// The device named by a run's `device` option ("cpu", "cuda", "cuda:N"). Throws UsageError for
// another name, for CUDA on a machine (or a libtorch build) without it, and for a missing index.
torch::Device parse_compute_device(const std::string& text);

// Waits for the device's queued work: a no-op on the CPU; timing a CUDA step needs it.
void synchronize(const torch::Device& device);

}  // namespace octrain::train
