#pragma once

// The benchmarked workloads: one training step (octrain Adam vs libtorch autograd +
// torch::optim::Adam) and one gradient evaluation (octrain rollout + sweep vs libtorch forward +
// backward) per network.

#include <torch/optim.h>
#include <torch/types.h>

#include <string>
#include <vector>

namespace octrain::bench {

struct NetCase {
  std::string id;                    // short name used in benchmark names, e.g. "mnist_mlp"
  std::string spec;                  // control::build_network spec
  std::vector<int64_t> input_shape;  // per-sample shape
  int64_t batch;
  int64_t classes;
};

// The benchmarked networks: MNIST-sized ReLU MLP and WINE-sized 5-layer tanh MLP.
const std::vector<NetCase>& net_cases();

// The benchmark kinds; a benchmark is named "<kind>/<net id>".
inline constexpr const char* kOctrainStep = "octrain_step";    // method->step (adam)
inline constexpr const char* kLibtorchStep = "libtorch_step";  // autograd + torch::optim::Adam
inline constexpr const char* kOctrainSweep = "octrain_sweep";  // rollout + sweep, no update
inline constexpr const char* kAutogradBackward =
    "autograd_grad";  // forward + loss.backward(), no update
// The forward halves of the two gradient paths, for the time breakdown.
inline constexpr const char* kOctrainRollout = "octrain_rollout";  // rollout only
inline constexpr const char* kAutogradForward =
    "autograd_forward";  // forward + loss, graph built, no backward

// Registers every (kind, net) pair with Google Benchmark.
void register_benchmarks();

// Discrete-weight nets (discrete_workloads.cpp): one msa-discrete step against one step of the
// straight-through baseline for the net's control set (binaryconnect for binary, twn for ternary).
inline constexpr const char* kMsaDiscreteStep = "msa_discrete_step";
inline constexpr const char* kBaselineStep = "quantised_baseline_step";
const std::vector<NetCase>& discrete_net_cases();
std::vector<std::pair<std::string, std::string>> discrete_kinds(const NetCase& c);  // kind, method
void register_discrete_benchmarks();

// Checks that the sweep's −∂H/∂θ equals autograd's ∂J/∂θ on every net (so the two timed paths do
// the same work); prints the largest difference and returns false on a mismatch.
bool check_gradients_agree();

// Seeds torch's generator; every workload calls it before building its network and data.
void seed_everything(uint64_t seed = 1234);

}  // namespace octrain::bench
