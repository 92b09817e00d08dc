#include "octrain/methods/exact_curvature.h"

#include <torch/linalg.h>

namespace octrain::methods {

void ExactCurvature::set_value_hessian(const torch::Tensor& inputs, const torch::Tensor& v_hh,
                                       double l2) {
  // g_u^(s) = x̃_sᵀ ⊗ I, so g_u^(s)ᵀ V_hh^(s,t) g_u^(t) [(j,a),(k,b)] = V_hh^(s,t)[j,k] x̃_s,a x̃_t,b.
  auto m = (v_hh.dim() == 4 ? torch::einsum("sjtk,sa,tb->jakb", {v_hh, inputs, inputs})
                            : torch::einsum("sjk,sa,sb->jakb", {v_hh, inputs, inputs})) /
           double(inputs.size(0));
  const int64_t n = v_hh.size(1) * inputs.size(1);
  matrix_ = m.reshape({n, n});
  matrix_.diagonal().add_(l2 + damping_);
}

torch::Tensor ExactCurvature::solve(const torch::Tensor& gradient) const {
  const int64_t n = matrix_.size(0);
  const auto rhs = gradient.reshape({-1, n}).t();
  return at::linalg_solve(matrix_, rhs).t().reshape(gradient.sizes());
}

torch::Tensor ExactCurvature::sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                                          const torch::Tensor& v) const {
  const auto gu = u.unsqueeze(2) * inputs.unsqueeze(1);
  return (gu * solve(v.unsqueeze(2) * inputs.unsqueeze(1))).sum({1, 2});
}

}  // namespace octrain::methods
