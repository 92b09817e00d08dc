#pragma once

#include <cstddef>
#include <vector>

namespace octrain::analysis {

// Gauss–Hermite rule for the standard Gaussian measure Dz = e^{−z²/2}/√(2π) dz:
//   ∫Dz g(z) ≈ Σ_i w_i g(z_i),  exact for polynomials of degree ≤ 2n−1, Σ_i w_i = 1.
// Nodes and weights come from the eigen-decomposition of the Jacobi matrix of the probabilists'
// Hermite recurrence (Golub–Welsch). With an even n no node sits at z = 0, so integrands with a
// kink there (ReLU and its step derivative) are integrated symmetrically.
struct GaussHermite {
  std::vector<double> nodes;
  std::vector<double> weights;

  explicit GaussHermite(int n);
  int size() const { return int(nodes.size()); }

  // ∫Dz g(z).
  template <class G>
  double integrate(G&& g) const {
    double sum = 0.0;
    for (size_t i = 0; i < nodes.size(); ++i) sum += weights[i] * g(nodes[i]);
    return sum;
  }
  // ∫Dz₁Dz₂ g(z₁, z₂) by the product rule (n² points).
  template <class G>
  double integrate2(G&& g) const {
    double sum = 0.0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      double inner = 0.0;
      for (size_t j = 0; j < nodes.size(); ++j) inner += weights[j] * g(nodes[i], nodes[j]);
      sum += weights[i] * inner;
    }
    return sum;
  }
};

}  // namespace octrain::analysis
