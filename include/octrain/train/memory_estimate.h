#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace octrain::control {
class Network;
}

namespace octrain::train {

// A rough up-front estimate of what one training run holds in memory, in bytes (float32 unless
// the tensors say otherwise). Per-method multipliers are documented in README.md ("Memory").
struct MemoryEstimate {
  double parameters = 0;    // controls and buffers
  double gradients = 0;     // ∂J/∂θ, one per control
  double method_state = 0;  // moments, accumulators, curvature factors, latent weights, histories
  double activations = 0;   // states, co-states and local graphs of one batch
  double extras = 0;        // the method's further per-batch work (second rollouts, value models)
  double total() const { return parameters + gradients + method_state + activations + extras; }
  // "parameters 318 GB, gradients 318 GB, method state 636 GB, activations 205 GB, method
  // extras 0 B".
  std::string breakdown() const;
  // "about 1.48 TB (" + breakdown() + ")".
  std::string describe() const;
};

// Estimates a run of `method` (with its options as in a config; defaults filled in) on
// `network`, built or planned (control::plan_network), with batches of `batch_size`.
MemoryEstimate estimate_memory(control::Network& network, const std::string& method,
                               const std::map<std::string, std::string>& method_options,
                               int64_t batch_size);

// MemAvailable of /proc/meminfo in bytes; empty where it cannot be read.
std::optional<double> available_memory();

// Throws UsageError "<what>: needs about 318 GB of memory (…) but 12.1 GB are available" when the
// estimate exceeds `available` (empty: no check).
void check_memory(const MemoryEstimate& estimate, std::optional<double> available,
                  const std::string& what);

// 3.2 GB, 512 MB, 4 kB: decimal units, three significant digits.
std::string format_bytes(double bytes);

}  // namespace octrain::train
