// Mean-field signal propagation: Poole et al. (2016) and Schoenholz et al. (2017), as summarised
// in [REVIEW] (Liu & Theodorou 2019, §4); docs/methods/meanfield.md (length/correlation maps,
// χ₁, ξ_q, ξ_c).
#include "octrain/analysis/mean_field.h"

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <limits>

#include "octrain/util/error.h"

namespace octrain::analysis {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();
// Below this |g| a bracket end counts as a root; the maps are evaluated to ~1e-15.
constexpr double kRootTolerance = 1e-13;

// Root of g on [lo, hi] with g(lo) ≥ 0 ≥ g(hi): regula falsi with the Illinois modification
// (superlinear, never leaves the bracket), finished when the bracket is below `tolerance`.
double bracketed_root(const std::function<double(double)>& g, double lo, double hi,
                      double tolerance) {
  double g_lo = g(lo), g_hi = g(hi);
  int side = 0;
  for (int iteration = 0; iteration < 200 && hi - lo > tolerance; ++iteration) {
    double x = (lo * g_hi - hi * g_lo) / (g_hi - g_lo);
    if (!(x > lo && x < hi)) x = 0.5 * (lo + hi);
    const double g_x = g(x);
    if (g_x == 0.0) return x;
    if (g_x > 0) {
      lo = x;
      g_lo = g_x;
      if (side == 1) g_hi *= 0.5;
      side = 1;
    } else {
      hi = x;
      g_hi = g_x;
      if (side == -1) g_lo *= 0.5;
      side = -1;
    }
  }
  return 0.5 * (lo + hi);
}

// −1/log(slope): the depth over which deviations from a fixed point decay by e.
double depth_scale(double slope) {
  if (!(slope > 0) || slope >= 1) return kInfinity;
  return -1.0 / std::log(slope);
}

}  // namespace

MeanField::MeanField(const ActivationFunctions& phi, double sigma_w2, double sigma_b2,
                     const GaussHermite& rule)
    : phi_(phi), sigma_w2_(sigma_w2), sigma_b2_(sigma_b2), rule_(rule) {
  if (!(sigma_w2 >= 0) || !std::isfinite(sigma_w2))
    throw UsageError(fmt::format("σ_w² = {} is invalid: expected a number ≥ 0", sigma_w2));
  if (!(sigma_b2 >= 0) || !std::isfinite(sigma_b2))
    throw UsageError(fmt::format("σ_b² = {} is invalid: expected a number ≥ 0", sigma_b2));
}

double MeanField::length_map(double q) const {
  const double s = std::sqrt(q);
  return sigma_w2_ * rule_.integrate([&](double z) {
    const double v = phi_.phi(s * z);
    return v * v;
  }) + sigma_b2_;
}

double MeanField::covariance_map(double q_aa, double q_bb, double c) const {
  const double sa = std::sqrt(q_aa), sb = std::sqrt(q_bb);
  const double sc = std::sqrt(std::max(0.0, 1 - c * c));
  // φ(u_a) depends on z₁ only: evaluate it once per outer node.
  double sum = 0.0;
  for (int i = 0; i < rule_.size(); ++i) {
    const double z1 = rule_.nodes[size_t(i)];
    const double phi_a = phi_.phi(sa * z1);
    double inner = 0.0;
    for (int j = 0; j < rule_.size(); ++j)
      inner += rule_.weights[size_t(j)] * phi_.phi(sb * (c * z1 + sc * rule_.nodes[size_t(j)]));
    sum += rule_.weights[size_t(i)] * phi_a * inner;
  }
  return sigma_w2_ * sum + sigma_b2_;
}

double MeanField::correlation_map(double q, double c) const {
  return covariance_map(q, q, c) / length_map(q);
}

double MeanField::chi1(double q) const {
  const double s = std::sqrt(q);
  return sigma_w2_ * rule_.integrate([&](double z) {
    const double d = phi_.dphi(s * z);
    return d * d;
  });
}

double MeanField::fixed_point_length() const {
  // The length map is increasing in q; the iterated map from any q⁰ > 0 settles on the first
  // stable root of g(q) = F(q) − q, which we bracket and solve instead of iterating (iteration
  // converges only like 1/l at criticality).
  const auto g = [this](double q) { return length_map(q) - q; };
  double lo = 0.0;
  if (g(0.0) <= kRootTolerance) {
    // q = 0 is a fixed point (φ(0) = 0, σ_b² = 0): stable unless the map grows away from it.
    lo = 1e-12;
    if (g(lo) <= 0) return 0.0;
  }
  double hi = std::max(1.0, 2 * lo);
  while (g(hi) > 0) {
    lo = hi;
    hi *= 2;
    if (hi > 1e15) return kInfinity;
  }
  return bracketed_root(g, lo, hi, 1e-14 * hi);
}

MeanFieldFixedPoint MeanField::fixed_point() const {
  MeanFieldFixedPoint p{};
  p.q_star = fixed_point_length();
  if (!std::isfinite(p.q_star)) {
    p.chi1 = p.c_star = std::numeric_limits<double>::quiet_NaN();
    p.xi_q = p.xi_c = std::numeric_limits<double>::quiet_NaN();
    return p;
  }
  // At q* = 0 the maps are evaluated in the limit q → 0⁺ (which ReLU's scale invariance needs).
  const double q = std::max(p.q_star, std::numeric_limits<double>::min());
  const double s = std::sqrt(q);
  p.chi1 = chi1(q);
  const double curvature =
      sigma_w2_ * rule_.integrate([&](double z) { return phi_.d2phi(s * z) * phi_.phi(s * z); });
  p.xi_q = depth_scale(p.chi1 + curvature);
  if (p.chi1 <= 1) {
    // Ordered phase: c = 1 is the stable fixed point and the correlation map's slope there is χ₁.
    p.c_star = 1.0;
    p.xi_c = depth_scale(p.chi1);
    return p;
  }
  // Chaotic phase: c = 1 is unstable; C(c) − c changes sign on [−1, 1): C(−1) ≥ −1 and
  // C(1 − δ) ≈ 1 − χ₁δ < 1 − δ.
  const auto g = [&](double c) { return correlation_map(q, c) - c; };
  const double top = 1 - 1e-9;
  p.c_star = g(top) >= 0 ? 1.0 : bracketed_root(g, -1.0, top, 1e-12);
  const double sc = std::sqrt(std::max(0.0, 1 - p.c_star * p.c_star));
  const double chi_c = sigma_w2_ * rule_.integrate2([&](double z1, double z2) {
    return phi_.dphi(s * z1) * phi_.dphi(s * (p.c_star * z1 + sc * z2));
  });
  p.xi_c = depth_scale(chi_c);
  return p;
}

IsometryMoments MeanField::isometry(int depth, WeightDistribution weights) const {
  const double q = std::max(fixed_point_length(), std::numeric_limits<double>::min());
  const double s = std::sqrt(q);
  const double mu1 = rule_.integrate([&](double z) { return std::pow(phi_.dphi(s * z), 2); });
  const double mu2 = rule_.integrate([&](double z) { return std::pow(phi_.dphi(s * z), 4); });
  const double mean = std::pow(sigma_w2_ * mu1, depth);
  const double spread = weights == WeightDistribution::kGaussian ? 1.0 : 0.0;
  return {mean, mean * mean * depth * (mu2 / (mu1 * mu1) - 1 + spread)};
}

double critical_sigma_w2(const ActivationFunctions& phi, double sigma_b2,
                         const GaussHermite& rule) {
  // χ₁ grows with σ_w²; a diverging length map (unbounded φ) counts as the chaotic side.
  const auto g = [&](double sigma_w2) {
    const MeanField field(phi, sigma_w2, sigma_b2, rule);
    const double q = field.fixed_point_length();
    if (!std::isfinite(q)) return -1.0;
    return 1.0 - field.chi1(std::max(q, std::numeric_limits<double>::min()));
  };
  double lo = 1e-6, hi = 1.0;
  while (g(hi) > 0) {
    lo = hi;
    hi *= 2;
    if (hi > 1e6)
      throw UsageError(
          fmt::format("{}: χ₁ stays below 1 for σ_b² = {} up to σ_w² = 1e6", phi.name, sigma_b2));
  }
  if (g(lo) <= 0)
    throw UsageError(
        fmt::format("{}: χ₁ ≥ 1 already at σ_w² = {} for σ_b² = {}", phi.name, lo, sigma_b2));
  return bracketed_root(g, lo, hi, 1e-12);
}

}  // namespace octrain::analysis
