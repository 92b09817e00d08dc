#pragma once

#include <cstdint>

namespace octrain::control {
class Network;
}  // namespace octrain::control

namespace octrain::perf {

// Floating-point operations of one forward rollout of `batch` samples, counting the dense and
// convolution stages (also inside residual stages) as 2 per multiply-add: 2·in·out per sample for
// dense, 2·C_in·k²·C_out·H_out·W_out for conv2d. Biases, activations, pooling and batch norm are
// left out; on the standard nets they are well under 1 % of the total.
double forward_flops(control::Network& network, int64_t batch);

// The FLOPs of one gradient step on that batch: forward, co-state sweep and parameter gradients
// cost one forward each per weight stage, except that the sweep skips the co-state of the input
// (p_0), i.e. the first weight stage's input product: 3·F − F_first.
double gradient_step_flops(control::Network& network, int64_t batch);

}  // namespace octrain::perf
