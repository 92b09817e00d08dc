#include "octrain/methods/elementwise_curvature.h"

#include <ATen/Dispatch.h>
#include <torch/serialize/archive.h>

#include <cmath>

#include "octrain/methods/elementwise_kernels.h"
#include "octrain/methods/fused_optimizers.h"
#include "octrain/methods/work_count.h"

namespace octrain::methods {

torch::Tensor IdentityCurvature::sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                                             const torch::Tensor& v) const {
  // ⟨u x̃ᵀ, v x̃ᵀ⟩ = (u·v)‖x̃‖².
  return (u * v).sum(-1) * inputs.square().sum(1);
}

void DiagonalCurvature::observe(const LayerRows&, const torch::Tensor& mean_gradient) {
  if (!second_moment_.defined()) {
    second_moment_ = torch::zeros_like(mean_gradient, torch::MemoryFormat::Contiguous);
    steps_ = 0;
  }
  ++steps_;
  if (!denominator_.defined()) denominator_ = torch::empty_like(second_moment_);
  if (is_kernel_array(mean_gradient, second_moment_) &&
      is_kernel_array(second_moment_, second_moment_) &&
      is_kernel_array(denominator_, second_moment_)) {
    AT_DISPATCH_FLOATING_TYPES(second_moment_.scalar_type(), "diagonal curvature", [&] {
      auto *v = second_moment_.data_ptr<scalar_t>(), *d = denominator_.data_ptr<scalar_t>();
      const auto* g = mean_gradient.data_ptr<scalar_t>();
      over_elements(second_moment_.numel(), [&](int64_t begin, int64_t end) {
        kernels::diagonal_curvature(v + begin, g + begin, d + begin, end - begin, beta2_,
                                    root_correction(), eps_);
      });
    });
    return;
  }
  second_moment_.mul_(beta2_).addcmul_(mean_gradient, mean_gradient, 1.0 - beta2_);
  refresh_denominator();
}

double DiagonalCurvature::root_correction() const {
  return bias_correction_ ? std::sqrt(1.0 - std::pow(beta2_, double(steps_))) : 1.0;
}

void DiagonalCurvature::revise(const torch::Tensor& observed, const torch::Tensor& applied) {
  second_moment_.addcmul_(applied, applied, 1.0 - beta2_)
      .addcmul_(observed, observed, -(1.0 - beta2_))
      .clamp_min_(0.0);
  refresh_denominator();
}

void DiagonalCurvature::refresh_denominator() {
  if (!bias_correction_) {
    denominator_ = second_moment_.sqrt().add_(eps_);
    return;
  }
  denominator_ = (second_moment_.sqrt() / root_correction()).add_(eps_);
}

torch::Tensor DiagonalCurvature::solve(const torch::Tensor& gradient) const {
  return gradient / denominator_;
}

torch::Tensor DiagonalCurvature::preconditioned_moment(torch::Tensor& moment,
                                                       const torch::Tensor& direction, double beta1,
                                                       double scale) const {
  if (!moment.defined()) moment = torch::zeros_like(direction, torch::MemoryFormat::Contiguous);
  if (!is_kernel_array(moment, moment) || !is_kernel_array(direction, moment) ||
      !is_kernel_array(denominator_, moment)) {
    moment.mul_(beta1).add_(direction, 1.0 - beta1);
    return solve(moment) * scale;
  }
  auto step = torch::empty_like(moment);
  AT_DISPATCH_FLOATING_TYPES(moment.scalar_type(), "preconditioned moment", [&] {
    auto *m = moment.data_ptr<scalar_t>(), *s = step.data_ptr<scalar_t>();
    const auto *d = direction.data_ptr<scalar_t>(), *M = denominator_.data_ptr<scalar_t>();
    over_elements(moment.numel(), [&](int64_t begin, int64_t end) {
      kernels::preconditioned_moment(m + begin, d + begin, M + begin, s + begin, end - begin, beta1,
                                     scale);
    });
  });
  return step;
}

torch::Tensor DiagonalCurvature::sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                                             const torch::Tensor& v) const {
  // Σ_jk u_j v_j x̃_k² / m_jk = Σ_j u_j v_j (x̃² m⁻¹ᵀ)_j.
  count_flops(matmul_flops(inputs.size(0), inputs.size(1), denominator_.size(0)));
  return (u * v * inputs.square().mm(denominator_.reciprocal().t())).sum(-1);
}

void DiagonalCurvature::save(torch::serialize::OutputArchive& archive,
                             const std::string& prefix) const {
  if (!second_moment_.defined()) return;
  archive.write(prefix + "second_moment", second_moment_);
  archive.write(prefix + "steps", torch::tensor(steps_, torch::kInt64));
}

void DiagonalCurvature::load(torch::serialize::InputArchive& archive, const std::string& prefix) {
  torch::Tensor moment, steps;
  if (!archive.try_read(prefix + "second_moment", moment)) return;
  archive.read(prefix + "steps", steps);
  second_moment_ = moment;
  steps_ = steps.item<int64_t>();
  refresh_denominator();
}

}  // namespace octrain::methods
