// Q. Li, S. Hao, "An Optimal Control Approach to Deep Learning and Applications to
// Discrete-Weight Neural Networks", ICML 2018 — the closed-form stabilised MSA updates (§3).
#include "octrain/methods/discrete_msa_rule.h"

#include <torch/torch.h>

#include <optional>

namespace octrain::methods {
namespace {

// ρ_k = ρ · max |E| over the entries whose θ disagrees with σ; none when no entry disagrees.
std::optional<double> relative_threshold(const torch::Tensor& theta, const torch::Tensor& sigma,
                                         const torch::Tensor& E, double rho) {
  const auto wrong = theta.ne(sigma);
  const auto largest_wrong = torch::where(wrong, E.abs(), torch::zeros({}, E.options())).max();
  if (!wrong.any().item<bool>()) return std::nullopt;
  return rho * largest_wrong.item<double>();
}

torch::Tensor sign_of(const torch::Tensor& E) {
  return torch::where(E.ge(0), torch::ones({}, E.options()), -torch::ones({}, E.options()));
}

}  // namespace

torch::Tensor binary_msa_update(const torch::Tensor& theta, const torch::Tensor& E, double rho) {
  torch::NoGradGuard no_grad;
  const auto sigma = sign_of(E);
  const auto rho_k = relative_threshold(theta, sigma, E, rho);
  if (!rho_k) return theta.clone();
  return torch::where(E.abs().gt(*rho_k), sigma, theta);
}

torch::Tensor ternary_msa_update(const torch::Tensor& theta, const torch::Tensor& E, double rho,
                                 double lambda) {
  torch::NoGradGuard no_grad;
  const auto rho_k = relative_threshold(theta, sign_of(E), E, rho);
  if (!rho_k) return theta.clone();
  // +1 if E > ρ_k(1 − 2θ) + λ,  −1 if E < −ρ_k(1 + 2θ) − λ,  0 otherwise.
  const auto shift = theta * (2 * *rho_k);
  const double offset = *rho_k + lambda;
  const auto up = E.gt(offset - shift);
  const auto down = E.lt(-offset - shift);
  return up.to(E.scalar_type()) - down.to(E.scalar_type());
}

}  // namespace octrain::methods
