#pragma once

#include "octrain/analysis/activation_functions.h"
#include "octrain/analysis/gauss_hermite.h"

namespace octrain::analysis {

// The fixed-point picture of a random network at one (σ_w², σ_b²) (docs/methods/meanfield.md).
struct MeanFieldFixedPoint {
  double q_star;  // length-map fixed point; +inf when the length map diverges
  double chi1;    // σ_w² ∫Dz φ'(√q* z)²; < 1 ordered, > 1 chaotic
  double c_star;  // correlation-map fixed point (1 in the ordered phase)
  double xi_q;    // depth scale of the length map; +inf at marginal stability
  double xi_c;    // depth scale of the correlation map; trainable depth ≲ 6 ξ_c
};

enum class WeightDistribution { kGaussian, kOrthogonal };

// Moments of the eigenvalues λ of JJᵀ (λ = squared singular values of the input–output Jacobian
// J = Π_l D_l W_l over `depth` layers at q*), Pennington, Schoenholz & Ganguli (2017):
//   mean = χ₁^L,  variance = mean² · L · (μ₂/μ₁² − 1 + s),  μ_k = ∫Dz φ'(√q* z)^{2k},
// with s = 1 for Gaussian and 0 for orthogonal weights. Dynamical isometry is variance ≈ 0 at χ₁=1.
struct IsometryMoments {
  double mean;
  double variance;
};

// Mean-field signal propagation through h^l = W^l φ(h^{l−1}) + b^l, W_ij ~ N(0, σ_w²/N),
// b ~ N(0, σ_b²), evaluated with a Gauss–Hermite rule (Poole et al. 2016, Schoenholz et al. 2017).
class MeanField {
 public:
  // `phi` and `rule` are referenced, not copied: they must outlive the MeanField.
  MeanField(const ActivationFunctions& phi, double sigma_w2, double sigma_b2,
            const GaussHermite& rule);

  // q^l = σ_w² ∫Dz φ(√q^{l−1} z)² + σ_b².
  double length_map(double q) const;
  // q_ab^l = σ_w² ∫Dz₁Dz₂ φ(u_a) φ(u_b) + σ_b²,  u_a = √q_aa z₁, u_b = √q_bb (c z₁ + √(1−c²) z₂).
  double covariance_map(double q_aa, double q_bb, double c) const;
  // c^l from c^{l−1} for two inputs at the same length q.
  double correlation_map(double q, double c) const;
  // σ_w² ∫Dz φ'(√q z)² (χ₁ at q = q*).
  double chi1(double q) const;

  double fixed_point_length() const;
  MeanFieldFixedPoint fixed_point() const;
  IsometryMoments isometry(int depth, WeightDistribution weights) const;

  double sigma_w2() const { return sigma_w2_; }
  double sigma_b2() const { return sigma_b2_; }

 private:
  const ActivationFunctions& phi_;
  double sigma_w2_, sigma_b2_;
  const GaussHermite& rule_;
};

// The σ_w² at which χ₁(q*) = 1 for this σ_b² (the order-to-chaos transition).
double critical_sigma_w2(const ActivationFunctions& phi, double sigma_b2, const GaussHermite& rule);

}  // namespace octrain::analysis
