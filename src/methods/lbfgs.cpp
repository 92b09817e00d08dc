#include "octrain/methods/lbfgs.h"

#include <algorithm>
#include <cmath>
#include <deque>

namespace octrain::methods {
namespace {

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

double max_abs(const std::vector<double>& a) {
  double m = 0.0;
  for (double v : a) m = std::max(m, std::abs(v));
  return m;
}

struct CurvaturePair {
  std::vector<double> s, y;  // θ_{k+1} − θ_k, ∇F_{k+1} − ∇F_k
  double rho;                // 1 / yᵀs
};

// Two-loop recursion: the search direction −H_k ∇F with H_k the L-BFGS inverse Hessian.
std::vector<double> search_direction(const std::deque<CurvaturePair>& pairs,
                                     const std::vector<double>& gradient) {
  std::vector<double> q = gradient;
  std::vector<double> alpha(pairs.size());
  for (size_t i = pairs.size(); i-- > 0;) {
    alpha[i] = pairs[i].rho * dot(pairs[i].s, q);
    for (size_t j = 0; j < q.size(); ++j) q[j] -= alpha[i] * pairs[i].y[j];
  }
  if (!pairs.empty()) {  // H_0 = γ I with γ = sᵀy / yᵀy (N&W eq. 7.20)
    const auto& last = pairs.back();
    const double gamma = 1.0 / (last.rho * dot(last.y, last.y));
    for (double& v : q) v *= gamma;
  }
  for (size_t i = 0; i < pairs.size(); ++i) {
    const double beta = pairs[i].rho * dot(pairs[i].y, q);
    for (size_t j = 0; j < q.size(); ++j) q[j] += (alpha[i] - beta) * pairs[i].s[j];
  }
  for (double& v : q) v = -v;
  return q;
}

}  // namespace

LbfgsResult minimise_lbfgs(const Objective& objective, std::vector<double>& theta,
                           const LbfgsOptions& options) {
  constexpr double kArmijo = 1e-4;  // sufficient-decrease constant c₁
  constexpr int kMaxBacktracks = 30;
  const size_t n = theta.size();
  LbfgsResult result;
  std::vector<double> gradient(n), trial(n), trial_gradient(n);
  result.value = objective(theta, gradient);
  result.evaluations = 1;
  if (!std::isfinite(result.value)) return result;
  std::deque<CurvaturePair> pairs;
  for (int64_t k = 0; k < options.max_iterations; ++k) {
    if (max_abs(gradient) <= options.gradient_tolerance) break;
    auto direction = search_direction(pairs, gradient);
    double slope = dot(gradient, direction);
    if (!(slope < 0.0)) {  // not a descent direction (curvature lost): restart from −∇F
      pairs.clear();
      direction = gradient;
      for (double& v : direction) v = -v;
      slope = dot(gradient, direction);
    }
    // The first step has no curvature information: scale it to unit length in max norm.
    double step = pairs.empty() ? std::min(1.0, 1.0 / max_abs(gradient)) : 1.0;
    double trial_value = 0.0;
    bool accepted = false;
    for (int b = 0; b <= kMaxBacktracks; ++b, step *= 0.5) {
      for (size_t i = 0; i < n; ++i) trial[i] = theta[i] + step * direction[i];
      trial_value = objective(trial, trial_gradient);
      ++result.evaluations;
      const bool finite = std::isfinite(trial_value);
      if (finite &&
          (!options.line_search || trial_value <= result.value + kArmijo * step * slope)) {
        accepted = true;
        break;
      }
    }
    if (!accepted) break;
    CurvaturePair pair{std::vector<double>(n), std::vector<double>(n), 0.0};
    for (size_t i = 0; i < n; ++i) {
      pair.s[i] = trial[i] - theta[i];
      pair.y[i] = trial_gradient[i] - gradient[i];
    }
    const double ys = dot(pair.y, pair.s);
    // Keep the pair only when it preserves positive definiteness (yᵀs > 0).
    if (ys > 1e-12 * std::sqrt(dot(pair.y, pair.y) * dot(pair.s, pair.s))) {
      pair.rho = 1.0 / ys;
      pairs.push_back(std::move(pair));
      if (int64_t(pairs.size()) > options.history) pairs.pop_front();
    }
    theta.swap(trial);
    gradient.swap(trial_gradient);
    const double reduction = result.value - trial_value;
    result.value = trial_value;
    ++result.iterations;
    if (reduction <= options.value_tolerance * std::max({std::abs(result.value), 1.0})) break;
  }
  return result;
}

}  // namespace octrain::methods
