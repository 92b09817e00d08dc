#include "octrain/analysis/gauss_hermite.h"

#include <fmt/format.h>
#include <torch/linalg.h>
#include <torch/types.h>

#include <cmath>

#include "octrain/util/error.h"

namespace octrain::analysis {

GaussHermite::GaussHermite(int n) {
  if (n < 1 || n > 1000)
    throw UsageError(fmt::format("Gauss–Hermite points = {} is invalid: expected 1 … 1000", n));
  // He_{k+1}(z) = z He_k(z) − k He_{k−1}(z): the symmetric Jacobi matrix has zero diagonal and
  // off-diagonal √k; its eigenvalues are the nodes and the squared first components of its
  // normalised eigenvectors the weights (the measure has unit mass).
  auto jacobi = torch::zeros({n, n}, torch::kFloat64);
  for (int k = 1; k < n; ++k) {
    jacobi[k - 1][k] = std::sqrt(double(k));
    jacobi[k][k - 1] = std::sqrt(double(k));
  }
  const auto [values, vectors] = torch::linalg::eigh(jacobi, "L");
  const auto z = values.contiguous();
  const auto first = vectors.select(0, 0).contiguous();
  const auto z_at = z.accessor<double, 1>();
  const auto v_at = first.accessor<double, 1>();
  nodes.resize(size_t(n));
  weights.resize(size_t(n));
  for (int i = 0; i < n; ++i) {
    nodes[size_t(i)] = z_at[i];
    weights[size_t(i)] = v_at[i] * v_at[i];
  }
  // Symmetrise: the exact rule is symmetric, the eigen-solver only to rounding.
  for (int i = 0; i < n / 2; ++i) {
    const size_t a = size_t(i), b = size_t(n - 1 - i);
    const double z = 0.5 * (nodes[b] - nodes[a]), w = 0.5 * (weights[a] + weights[b]);
    nodes[a] = -z;
    nodes[b] = z;
    weights[a] = weights[b] = w;
  }
  if (n % 2 == 1) nodes[size_t(n / 2)] = 0.0;
}

}  // namespace octrain::analysis
