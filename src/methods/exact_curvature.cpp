#include "octrain/methods/exact_curvature.h"

#include <torch/linalg.h>

namespace octrain::methods {

void ExactCurvature::set_value_hessian(const torch::Tensor& inputs, const torch::Tensor& v_hh,
                                       double l2, const dist::BatchReducer* shard) {
  // g_u^(s) = x̃_sᵀ ⊗ I, so g_u^(s)ᵀ V_hh^(s,t) g_u^(t) [(j,a),(k,b)] = V_hh^(s,t)[j,k] x̃_s,a x̃_t,b.
  // In double precision: the Gauss-Newton Q_uu of a few thousand controls is ill-conditioned in
  // float (and OpenBLAS's single-precision triangular kernels crash on some CPUs: see
  // kronecker_curvature.cpp).
  const auto h = v_hh.to(torch::kDouble), xt = inputs.to(torch::kDouble);
  auto m = (h.dim() == 4 ? torch::einsum("sjtk,sa,tb->jakb", {h, xt, xt})
                         : torch::einsum("sjk,sa,sb->jakb", {h, xt, xt})) /
           double(inputs.size(0));
  if (shard) shard->mean(m);
  const int64_t n = v_hh.size(1) * inputs.size(1);
  matrix_ = m.reshape({n, n});
  matrix_.diagonal().add_(l2 + damping_);
}

torch::Tensor ExactCurvature::solve(const torch::Tensor& gradient) const {
  const int64_t n = matrix_.size(0);
  const auto rhs = gradient.reshape({-1, n}).t().to(torch::kDouble).contiguous();
  return at::linalg_solve(matrix_, rhs).t().reshape(gradient.sizes()).to(gradient.scalar_type());
}

torch::Tensor ExactCurvature::sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                                          const torch::Tensor& v) const {
  const auto gu = u.unsqueeze(2) * inputs.unsqueeze(1);
  return (gu * solve(v.unsqueeze(2) * inputs.unsqueeze(1))).sum({1, 2});
}

}  // namespace octrain::methods
