#pragma once

#include <torch/types.h>

#include <vector>

#include "octrain/analysis/mean_field.h"
#include "octrain/control/network.h"

namespace octrain::analysis {

// Second moments of the pre-activations h^l (the outputs of the l-th Dense stage, l = 1, 2, …)
// for two inputs a and b: lengths q_a, q_b (mean of h² over units) and their correlation c.
struct LayerSignal {
  int layer;
  double q_a, q_b, c;
};

// Measures q^l and c^l in a real network for paired rows of x_a and x_b (batch × features):
// per-row moments averaged over the batch.
std::vector<LayerSignal> measure_signal(control::Network& network, const torch::Tensor& x_a,
                                        const torch::Tensor& x_b);

// The mean-field prediction for `layers` layers from the input moments q⁰_a = ‖x_a‖²/N₀,
// q⁰_b and c⁰ (the first layer sees the raw input, later ones φ of the previous layer).
std::vector<LayerSignal> predict_signal(const MeanField& field, double q0_a, double q0_b, double c0,
                                        int layers);

// J = ∂x_k/∂x_0 at one input x_0 (a vector), where x_k is the state after the first `stages`
// stages: one backward pass over a batch of copies with the identity as output co-states.
torch::Tensor input_output_jacobian(control::Network& network, const torch::Tensor& x0,
                                    size_t stages);

}  // namespace octrain::analysis
