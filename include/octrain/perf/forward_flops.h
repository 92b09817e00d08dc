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

}  // namespace octrain::perf
