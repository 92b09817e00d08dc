#include "octrain/control/batch_norm.h"

#include <fmt/format.h>

#include "octrain/control/shapes_only.h"
#include "octrain/util/error.h"

namespace octrain::control {

BatchNormStage::BatchNormStage(int64_t features, double eps, double momentum)
    : Stage("BatchNorm"), features_(features), eps_(eps), momentum_(momentum) {
  if (features <= 0)
    throw UsageError(fmt::format("BatchNorm: features must be positive, got {}", features));
  if (!(eps > 0)) throw UsageError(fmt::format("BatchNorm: eps must be > 0, got {}", eps));
  if (!(momentum > 0 && momentum <= 1))
    throw UsageError(fmt::format("BatchNorm: momentum must be in (0, 1], got {}", momentum));
  gamma = register_parameter("gamma", torch::ones({features}, control_tensor_options()));
  beta = register_parameter("beta", torch::zeros({features}, control_tensor_options()));
  running_mean =
      register_buffer("running_mean", torch::zeros({features}, control_tensor_options()));
  running_var = register_buffer("running_var", torch::ones({features}, control_tensor_options()));
}

torch::Tensor BatchNormStage::forward(const torch::Tensor& x) {
  return torch::batch_norm(x, gamma, beta, running_mean, running_var, is_training(), momentum_,
                           eps_,
                           /*cudnn_enabled=*/true);
}

torch::Tensor BatchNormStage::per_sample_control_gradients(const torch::Tensor& x,
                                                           const torch::Tensor& v) {
  std::vector<int64_t> reduce{0}, shape(x.dim(), 1);
  for (int64_t d = 2; d < x.dim(); ++d) reduce.push_back(d);
  shape[1] = features_;
  torch::Tensor mean, var;
  if (is_training()) {
    mean = x.mean(reduce);
    var = x.var(reduce, /*unbiased=*/false);
  } else {
    mean = running_mean;
    var = running_var;
  }
  const auto normalised = (x - mean.view(shape)) * (var + eps_).rsqrt().view(shape);
  std::vector<int64_t> positions(reduce.begin() + 1, reduce.end());
  auto g_gamma = v * normalised, g_beta = v;
  if (!positions.empty()) {
    g_gamma = g_gamma.sum(positions);
    g_beta = g_beta.sum(positions);
  }
  return torch::cat({g_gamma, g_beta}, 1);
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
