// The closed-form discrete-MSA rules against a brute-force per-entry argmax of the penalised
// Hamiltonian (docs/methods/discrete-msa.md), on thousands of random entries.
#include "octrain/methods/discrete_msa_rule.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <initializer_list>

namespace octrain::methods {
namespace {

// ρ_k = ρ·max{|E| : θ ≠ sign(E)} by a plain loop; negative when no entry is wrong.
double brute_threshold(const torch::Tensor& theta, const torch::Tensor& E, double rho) {
  auto t = theta.accessor<float, 2>();
  auto e = E.accessor<float, 2>();
  double largest = -1;
  for (int64_t i = 0; i < theta.size(0); ++i)
    for (int64_t j = 0; j < theta.size(1); ++j) {
      const float sigma = e[i][j] >= 0 ? 1.0f : -1.0f;
      if (t[i][j] != sigma) largest = std::max(largest, double(std::abs(e[i][j])));
    }
  return largest < 0 ? -1 : rho * largest;
}

// argmax over `set` of E θ' − λ|θ'| − c·ρ_k (θ' − θ)², ties keep θ.
torch::Tensor brute_argmax(const torch::Tensor& theta, const torch::Tensor& E, double rho,
                           double lambda, double c, std::initializer_list<float> set) {
  const double rho_k = brute_threshold(theta, E, rho);
  auto out = theta.clone();
  if (rho_k < 0) return out;
  auto t = theta.accessor<float, 2>();
  auto e = E.accessor<float, 2>();
  auto o = out.accessor<float, 2>();
  for (int64_t i = 0; i < theta.size(0); ++i)
    for (int64_t j = 0; j < theta.size(1); ++j) {
      const auto value = [&](float v) {
        return double(e[i][j]) * v - lambda * std::abs(v) -
               c * rho_k * (v - t[i][j]) * (v - t[i][j]);
      };
      float best = t[i][j];
      for (float v : set)
        if (value(v) > value(best)) best = v;
      o[i][j] = best;
    }
  return out;
}

// The in-place rules on a copy of θ; also checks the returned flip count.
torch::Tensor binary_msa_update(const torch::Tensor& theta, const torch::Tensor& E, double rho) {
  auto updated = theta.clone();
  const int64_t flips = binary_msa_update_(updated, E, rho);
  EXPECT_EQ(flips, updated.ne(theta).sum().item<int64_t>());
  return updated;
}
torch::Tensor ternary_msa_update(const torch::Tensor& theta, const torch::Tensor& E, double rho,
                                 double lambda) {
  auto updated = theta.clone();
  const int64_t flips = ternary_msa_update_(updated, E, rho, lambda);
  EXPECT_EQ(flips, updated.ne(theta).sum().item<int64_t>());
  return updated;
}

TEST(DiscreteMsaRule, BinaryEqualsBruteForceArgmax) {
  torch::manual_seed(1);
  int64_t changed = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const auto theta = torch::randint(0, 2, {30, 40}, torch::kFloat32) * 2 - 1;
    const auto E = torch::randn({30, 40}) * std::pow(10.0, trial % 7 - 3);
    const double rho = 0.1 * (trial % 9 + 1);
    const auto ours = binary_msa_update(theta, E, rho);
    EXPECT_TRUE(torch::equal(ours, brute_argmax(theta, E, rho, 0, 0.5, {-1, 1})))
        << "trial " << trial;
    changed += ours.ne(theta).sum().item<int64_t>();
  }
  EXPECT_GT(changed, 100);  // the cases exercise both outcomes
}

TEST(DiscreteMsaRule, TernaryEqualsBruteForceArgmax) {
  torch::manual_seed(2);
  int64_t to_zero = 0, to_sign = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const auto theta = torch::randint(0, 3, {30, 40}, torch::kFloat32) - 1;
    const auto E = torch::randn({30, 40});
    const double rho = 0.05 * (trial % 9 + 1);
    const double lambda = trial % 3 == 0 ? 0.0 : 0.1 * (trial % 5);
    const auto ours = ternary_msa_update(theta, E, rho, lambda);
    EXPECT_TRUE(torch::equal(ours, brute_argmax(theta, E, rho, lambda, 1.0, {-1, 0, 1})))
        << "trial " << trial;
    to_zero += (ours.eq(0) & theta.ne(0)).sum().item<int64_t>();
    to_sign += (ours.ne(0) & ours.ne(theta)).sum().item<int64_t>();
  }
  EXPECT_GT(to_zero, 100);
  EXPECT_GT(to_sign, 100);
}

TEST(DiscreteMsaRule, InvariantToRescalingE) {
  torch::manual_seed(3);
  const auto binary = torch::randint(0, 2, {50, 20}, torch::kFloat32) * 2 - 1;
  const auto ternary = torch::randint(0, 3, {50, 20}, torch::kFloat32) - 1;
  const auto E = torch::randn({50, 20});
  for (double c : {1e-6, 0.37, 1e4}) {
    EXPECT_TRUE(
        torch::equal(binary_msa_update(binary, E * c, 0.5), binary_msa_update(binary, E, 0.5)));
    EXPECT_TRUE(torch::equal(ternary_msa_update(ternary, E * c, 0.25, 0),
                             ternary_msa_update(ternary, E, 0.25, 0)));
  }
}

TEST(DiscreteMsaRule, NoWrongEntryMeansNoChange) {
  torch::manual_seed(4);
  const auto E = torch::randn({10, 10});
  const auto sigma = torch::where(E.ge(0), torch::ones({}), -torch::ones({}));
  EXPECT_TRUE(torch::equal(binary_msa_update(sigma, E, 0.5), sigma));
  // A large λ would zero every entry if ρ_k were taken as 0; with no wrong entry nothing moves.
  EXPECT_TRUE(torch::equal(ternary_msa_update(sigma, E, 0.25, 100.0), sigma));
  // One wrong entry brings the rule back into play.
  auto one_wrong = sigma.clone();
  one_wrong[0][0] = 0;
  EXPECT_FALSE(torch::equal(ternary_msa_update(one_wrong, E, 0.25, 100.0), one_wrong));
}

}  // namespace
}  // namespace octrain::methods
