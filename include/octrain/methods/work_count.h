#pragma once

#include <torch/types.h>

#include <cstdint>

namespace octrain::control {
class Network;
class Stage;
}  // namespace octrain::control

namespace octrain::methods {

// The work a method's steps do, in FLOPs of layer products (2 per multiply-add: the dense and
// conv2d products of Stage::forward_flops, and the curvature factors' matrix products and
// decompositions), summed per thread: sweep_batch adds its rollout and sweep, every map of
// layer_maps.h its product, the curvatures their factor work, MSA/E-MSA their stage evaluations
// and DDPNOpt its forward passes. `octrain bench` reads the sum around each step to put the
// measured time beside the method's own work (docs/BENCHMARKS.md). Element-wise work (biases,
// activations, optimiser moments) is not counted.
double counted_flops();
void count_flops(double flops);

// One product of stage `stage`'s layer on the batch x [B, …]: forward_flops(x's sample shape)·B.
double layer_product_flops(const control::Stage& stage, const torch::Tensor& x);
// One forward rollout of `batch` samples (every stage's forward_flops).
double forward_pass_flops(control::Network& network, int64_t batch);
// The rollout and sweep of sweep_batch: forward, co-states and parameter gradients cost one
// forward each per stage, except that the co-state of the input p_0 is skipped unless asked for:
// 3·F, less the first layer's product without `need_initial_costate`.
double sweep_flops(control::Network& network, int64_t batch, bool need_initial_costate);

// Matrix products and decompositions of the curvature factors (LAPACK's operation counts).
inline double matmul_flops(int64_t m, int64_t k, int64_t n) {
  return 2.0 * double(m) * double(k) * double(n);
}
// Cholesky factorisation and inverse from it (potrf n³/3 + potri 2n³/3).
inline double spd_inverse_flops(int64_t n) {
  return double(n) * double(n) * double(n);
}
// Symmetric eigendecomposition with eigenvectors (Golub & Van Loan's 9n³).
inline double symmetric_eigen_flops(int64_t n) {
  return 9.0 * double(n) * double(n) * double(n);
}

}  // namespace octrain::methods
