#include "octrain/methods/exact_curvature.h"

#include <torch/linalg.h>

#include "octrain/methods/work_count.h"

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
  // One multiply-add per entry of Q_uu and sample (pair of samples with a 4-d V_hh).
  const double samples = double(inputs.size(0));
  count_flops(2.0 * double(n) * double(n) * (h.dim() == 4 ? samples * samples : samples));
  matrix_ = m.reshape({n, n});
  matrix_.diagonal().add_(l2 + damping_);
}

torch::Tensor ExactCurvature::solve(const torch::Tensor& gradient) const {
  const int64_t n = matrix_.size(0);
  const auto rhs = gradient.reshape({-1, n}).t().to(torch::kDouble).contiguous();
  // LU factorisation (2n³/3) and the two triangular solves per right-hand side (2n² each).
  count_flops(2.0 * double(n) * n * n / 3.0 + 2.0 * double(n) * n * double(rhs.size(1)));
  return at::linalg_solve(matrix_, rhs).t().reshape(gradient.sizes()).to(gradient.scalar_type());
}

torch::Tensor ExactCurvature::sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                                          const torch::Tensor& v) const {
  const auto gu = u.unsqueeze(2) * inputs.unsqueeze(1);
  return (gu * solve(v.unsqueeze(2) * inputs.unsqueeze(1))).sum({1, 2});
}

}  // namespace octrain::methods
