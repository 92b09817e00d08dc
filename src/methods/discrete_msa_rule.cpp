// Q. Li, S. Hao, "An Optimal Control Approach to Deep Learning and Applications to
// Discrete-Weight Neural Networks", ICML 2018 — the closed-form stabilised MSA updates (§3).
#include "octrain/methods/discrete_msa_rule.h"

#include <torch/types.h>
#include <torch/utils.h>

namespace octrain::methods {

// Written to touch each weight few times: these passes are the whole cost of the update.
int64_t binary_msa_update_(torch::Tensor& theta, const torch::Tensor& E, double rho) {
  torch::NoGradGuard no_grad;
  // θ_ij ≠ σ_ij exactly where θE < 0 (or E = 0, θ = −1, which has |E| = 0 and cannot move), so
  // max{|E| : wrong} = max(−θE); when it is ≤ 0 no entry can change.
  const auto theta_E = theta * E;
  const double largest_wrong = -theta_E.min().item<double>();
  if (!(largest_wrong > 0)) return 0;
  // θ ← σ where |E| > ρ_k: only wrong entries change, i.e. θ flips where θE < −ρ_k.
  const auto flip = theta_E.lt(-rho * largest_wrong);
  const int64_t flips = flip.sum().item<int64_t>();
  theta.copy_(torch::where(flip, -theta, theta));
  return flips;
}

int64_t ternary_msa_update_(torch::Tensor& theta, const torch::Tensor& E, double rho,
                            double lambda) {
  torch::NoGradGuard no_grad;
  // Wrong entries: θ = 0 (|E| counts) and θ = ±1 against the sign of E (−θE = |E| > 0).
  const auto zero = theta.eq(0);
  double largest_wrong = torch::where(zero, E.abs(), -(theta * E)).max().item<double>();
  if (!(largest_wrong > 0)) {
    // Every wrong entry, if any, has E = 0: ρ_k = 0 when one exists, no change otherwise.
    const auto sigma =
        torch::where(E.ge(0), torch::ones({}, E.options()), -torch::ones({}, E.options()));
    if (!theta.ne(sigma).any().item<bool>()) return 0;
    largest_wrong = 0;
  }
  const double rho_k = rho * largest_wrong;
  // +1 if E > ρ_k(1 − 2θ) + λ, −1 if E < −ρ_k(1 + 2θ) − λ, else 0; with g = E + 2ρ_kθ both
  // read |g| > ρ_k + λ, and the sign of g picks ±1.
  auto g = torch::add(E, theta, 2 * rho_k);
  const auto keep = g.abs().gt(rho_k + lambda);
  const auto updated = g.sign_().mul_(keep);
  const int64_t flips = updated.ne(theta).sum().item<int64_t>();
  theta.copy_(updated);
  return flips;
}

}  // namespace octrain::methods
