#include "octrain/methods/elementwise_curvature.h"

#include <torch/serialize/archive.h>

#include <cmath>

#include "octrain/methods/work_count.h"

namespace octrain::methods {

torch::Tensor IdentityCurvature::sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                                             const torch::Tensor& v) const {
  // ⟨u x̃ᵀ, v x̃ᵀ⟩ = (u·v)‖x̃‖².
  return (u * v).sum(-1) * inputs.square().sum(1);
}

void DiagonalCurvature::observe(const LayerRows&, const torch::Tensor& mean_gradient) {
  if (!second_moment_.defined()) {
    second_moment_ = torch::zeros_like(mean_gradient);
    steps_ = torch::zeros({}, torch::kInt64);
  }
  second_moment_.mul_(beta2_).addcmul_(mean_gradient, mean_gradient, 1.0 - beta2_);
  steps_ += 1;
  refresh_denominator();
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
  const double correction = 1.0 - std::pow(beta2_, double(steps_.item<int64_t>()));
  denominator_ = (second_moment_.sqrt() / std::sqrt(correction)).add_(eps_);
}

torch::Tensor DiagonalCurvature::solve(const torch::Tensor& gradient) const {
  return gradient / denominator_;
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
  archive.write(prefix + "steps", steps_);
}

void DiagonalCurvature::load(torch::serialize::InputArchive& archive, const std::string& prefix) {
  torch::Tensor moment, steps;
  if (!archive.try_read(prefix + "second_moment", moment)) return;
  archive.read(prefix + "steps", steps);
  second_moment_ = moment;
  steps_ = steps;
  refresh_denominator();
}

}  // namespace octrain::methods
