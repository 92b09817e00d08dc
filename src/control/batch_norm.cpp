#include "octrain/control/batch_norm.h"

#include <fmt/format.h>

#include "octrain/util/error.h"

namespace octrain::control {

BatchNormStage::BatchNormStage(int64_t features, double eps, double momentum)
    : Stage("BatchNorm"), features_(features), eps_(eps), momentum_(momentum) {
  if (features <= 0)
    throw UsageError(fmt::format("BatchNorm: features must be positive, got {}", features));
  if (!(eps > 0)) throw UsageError(fmt::format("BatchNorm: eps must be > 0, got {}", eps));
  if (!(momentum > 0 && momentum <= 1))
    throw UsageError(fmt::format("BatchNorm: momentum must be in (0, 1], got {}", momentum));
  gamma = register_parameter("gamma", torch::ones({features}));
  beta = register_parameter("beta", torch::zeros({features}));
  running_mean = register_buffer("running_mean", torch::zeros({features}));
  running_var = register_buffer("running_var", torch::ones({features}));
}

torch::Tensor BatchNormStage::forward(const torch::Tensor& x) {
  return torch::batch_norm(x, gamma, beta, running_mean, running_var, is_training(), momentum_,
                           eps_,
                           /*cudnn_enabled=*/true);
}

std::string BatchNormStage::describe() const {
  return fmt::format("BatchNorm {} eps {} momentum {}", features_, eps_, momentum_);
}

Shape BatchNormStage::output_shape(const Shape& input) const {
  if (input.empty() || input[0] != features_ || (input.size() != 1 && input.size() != 3))
    throw UsageError(fmt::format("{}: expects input [{}] or [{}×H×W], got {}", describe(),
                                 features_, features_, to_string(input)));
  return input;
}

}  // namespace octrain::control
