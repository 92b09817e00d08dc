#pragma once

#include <torch/types.h>

#include <vector>

namespace octrain::control {
class Network;
struct Trajectory;
}  // namespace octrain::control

namespace octrain::methods {

// The vanishing-gradient regulariser of Pascanu, Mikolov & Bengio 2013 ("On the difficulty of
// training recurrent neural networks", eq. 9), read for a feed-forward net: a "step" k is a layer,
// from one trainable stage's input x_k to the next one's x_{k+1} (Dense → sigmoid is one step),
//   Ω = (1/B) Σ_s Σ_k ( ‖p_{k+1}^s ∂x_{k+1}/∂x_k‖ / ‖p_{k+1}^s‖ − 1 )²,
// with the co-states p_{k+1} = ∂E/∂x_{k+1} of the sweep held constant, as the paper does. Ω pushes
// each layer to pass the back-propagated error on with its norm kept. Samples whose p is zero
// are left out.
struct GradientNormPenalty {
  double value = 0.0;
  std::vector<torch::Tensor> gradients;  // ∂Ω/∂θ in network.controls() order
};
// Needs a trajectory after Network::sweep (its states and co-states); runs one forward pass with
// autograd from the first trainable stage and a double backward.
GradientNormPenalty gradient_norm_penalty(control::Network& network,
                                          const control::Trajectory& trajectory);

}  // namespace octrain::methods
