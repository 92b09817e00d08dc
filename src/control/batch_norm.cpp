#include "octrain/control/batch_norm.h"

#include <fmt/format.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/utils.h>

#include "octrain/control/shapes_only.h"
#include "octrain/util/error.h"

namespace octrain::control {
namespace {

using Synchronisation = BatchNormStage::Synchronisation;

// A pointer through autograd's saved data (the stage outlives its graphs).
int64_t pass(const Synchronisation* sync) {
  return int64_t(reinterpret_cast<intptr_t>(sync));
}
const Synchronisation* passed(torch::autograd::AutogradContext* ctx) {
  return reinterpret_cast<const Synchronisation*>(intptr_t(ctx->saved_data["sync"].toInt()));
}

// Co-states are batch means over each process's samples, so rank r's co-state of the global
// objective's term is its own divided by w_r = local/global. The sum y = Σ_r x_r then has the VJP
// g_r ↦ (1/w_r) Σ_r' w_r' g_r' (WeightedSumOverRanks), and that linear map's own VJP is the plain
// sum again — so first and second derivatives stay exact.
struct WeightedSumOverRanks;
struct SumOverRanks : torch::autograd::Function<SumOverRanks> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               int64_t sync) {
    ctx->saved_data["sync"] = sync;
    return reinterpret_cast<const Synchronisation*>(intptr_t(sync))->sum(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads);
};
struct WeightedSumOverRanks : torch::autograd::Function<WeightedSumOverRanks> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& g,
                               int64_t sync) {
    ctx->saved_data["sync"] = sync;
    const auto* s = reinterpret_cast<const Synchronisation*>(intptr_t(sync));
    const double w = s->weight();
    return s->sum(g * w) / w;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    return {SumOverRanks::apply(grads[0], pass(passed(ctx))), torch::Tensor()};
  }
};
torch::autograd::variable_list SumOverRanks::backward(torch::autograd::AutogradContext* ctx,
                                                      torch::autograd::variable_list grads) {
  return {WeightedSumOverRanks::apply(grads[0], pass(passed(ctx))), torch::Tensor()};
}

}  // namespace

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
  if (!sync_.sum || !is_training())
    return torch::batch_norm(x, gamma, beta, running_mean, running_var, is_training(), momentum_,
                             eps_,
                             /*cudnn_enabled=*/true);
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = features_;
  const auto stats = batch_statistics(x);
  {
    // Running averages as libtorch's: the unbiased variance of the (global) batch.
    torch::NoGradGuard no_grad;
    const double n = stats.count;
    running_mean.mul_(1 - momentum_).add_(stats.mean.detach(), momentum_);
    running_var.mul_(1 - momentum_)
        .add_(stats.var.detach() * (n / std::max(n - 1, 1.0)), momentum_);
  }
  return (x - stats.mean.view(shape)) * (stats.var + eps_).rsqrt().view(shape) * gamma.view(shape) +
         beta.view(shape);
}

BatchNormStage::Statistics BatchNormStage::batch_statistics(const torch::Tensor& x) const {
  std::vector<int64_t> reduce{0}, shape(x.dim(), 1);
  for (int64_t d = 2; d < x.dim(); ++d) reduce.push_back(d);
  shape[1] = features_;
  const double local_count = double(x.numel() / std::max<int64_t>(1, features_));
  if (!sync_.sum) return {x.mean(reduce), x.var(reduce, /*unbiased=*/false), local_count};
  // Two sums over the ranks: Σx with the sample count, then Σ(x − mean)² (the two-pass form
  // keeps the variance as accurate as the one-process kernel's).
  const auto count = torch::full({1}, local_count, x.options());
  const auto first = SumOverRanks::apply(torch::cat({x.sum(reduce), count}), pass(&sync_));
  const auto n = first.narrow(0, features_, 1).detach();
  const auto mean = first.narrow(0, 0, features_) / n;
  const auto centred = x - mean.view(shape);
  const auto var = SumOverRanks::apply((centred * centred).sum(reduce), pass(&sync_)) / n;
  return {mean, var, n.item<double>()};
}

torch::Tensor BatchNormStage::per_sample_control_gradients(const torch::Tensor& x,
                                                           const torch::Tensor& v) {
  std::vector<int64_t> reduce{0}, shape(x.dim(), 1);
  for (int64_t d = 2; d < x.dim(); ++d) reduce.push_back(d);
  shape[1] = features_;
  torch::Tensor mean, var;
  if (is_training()) {
    torch::NoGradGuard no_grad;
    const auto stats = batch_statistics(x);
    mean = stats.mean, var = stats.var;
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
