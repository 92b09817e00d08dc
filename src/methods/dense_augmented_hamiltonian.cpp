#include "octrain/methods/dense_augmented_hamiltonian.h"

#include <cmath>

#include "octrain/control/activation_formulas.h"
#include "octrain/control/stage.h"

namespace octrain::methods {
namespace {

// Above this many weights BLAS-backed tensor ops beat these scalar loops.
constexpr int64_t kMaxWeights = 4096;

std::vector<double> to_doubles(const torch::Tensor& t) {
  const auto d = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

// σ(z), σ'(z), σ''(z).
struct Derivatives {
  double value, first, second;
};

Derivatives activation_derivatives(control::Activation activation, double z) {
  const double s = control::formulas::value(activation, z);
  return {s, control::formulas::slope(activation, z, s),
          control::formulas::curvature(activation, z, s)};
}

}  // namespace

std::unique_ptr<DenseAugmentedHamiltonian> DenseAugmentedHamiltonian::make(
    control::Stage& stage, const torch::Tensor& x, const torch::Tensor& x_next,
    const torch::Tensor& p, const torch::Tensor& p_next, FeasibilityPenalty penalty) {
  std::unique_ptr<DenseAugmentedHamiltonian> out(new DenseAugmentedHamiltonian());
  // A real dense layer, alone or inside a residual stage y = x + δ·σ(W x + b).
  auto* layer = stage.linear_layer();
  if (!layer || !layer->is_matrix() || x.dim() != 2) return nullptr;
  const auto weight = layer->layer_weight();
  if (weight.numel() > kMaxWeights) return nullptr;
  const auto form = stage.layer_form();
  out->skip_ = form.skip;
  out->delta_ = form.delta;
  out->activation_ = form.activation;
  out->samples_ = x.size(0);
  out->in_ = weight.size(1);
  out->out_ = weight.size(0);
  out->has_bias_ = layer->layer_has_bias();
  out->rho_ = penalty.state;
  out->rho_costate_ = penalty.costate;
  out->l2_ = stage.running_cost_weights().l2;
  out->l1_ = stage.running_cost_weights().l1;
  out->x_ = to_doubles(x);
  out->x_next_ = to_doubles(x_next);
  out->p_ = to_doubles(p);
  out->p_next_ = to_doubles(p_next);
  return out;
}

double DenseAugmentedHamiltonian::evaluate(const std::vector<double>& theta,
                                           std::vector<double>* gradient,
                                           FeasibilityResiduals* residuals) const {
  const int64_t n = in_, m = out_;
  const double* W = theta.data();
  const double* b = has_bias_ ? theta.data() + m * n : nullptr;
  if (gradient) gradient->assign(theta.size(), 0.0);
  double* dW = gradient ? gradient->data() : nullptr;
  double* db = gradient && has_bias_ ? gradient->data() + m * n : nullptr;
  // Every loop below runs along contiguous memory with independent accumulators, so it
  // vectorises; each sum still adds its terms in the order of the plain formula (over k for
  // W x and W e_p, over j for Wᵀ g), so the results are bit for bit those of dot products.
  std::vector<double> W_t(size_t(n * m));  // Wᵀ, row-major [n × m]
  for (int64_t j = 0; j < m; ++j)
    for (int64_t k = 0; k < n; ++k) W_t[k * m + j] = W[j * n + k];
  std::vector<double> z(m), d1(m), d2(m), g(m), e_x(m), grad_x(n), e_p(n), w_e(m), grad_z(m);
  double hamiltonian = 0.0, state = 0.0, costate = 0.0;
  const double rho_p = rho_costate_;
  for (int64_t i = 0; i < samples_; ++i) {
    const double* xi = &x_[i * n];
    const double* pi_next = &p_next_[i * m];
    for (int64_t j = 0; j < m; ++j) z[j] = b ? b[j] : 0.0;
    for (int64_t k = 0; k < n; ++k) {
      const double* column = &W_t[k * m];
      const double x_k = xi[k];
      for (int64_t j = 0; j < m; ++j) z[j] += column[j] * x_k;
    }
    for (int64_t j = 0; j < m; ++j) {
      const auto a = activation_derivatives(activation_, z[j]);
      // skip_ implies m == n; without it x_i has n ≠ m entries, so never read xi[j] (0 × a NaN
      // past the end is NaN).
      const double f = (skip_ ? xi[j] : 0.0) + delta_ * a.value;
      hamiltonian += pi_next[j] * f;
      e_x[j] = x_next_[i * m + j] - f;
      state += e_x[j] * e_x[j];
      d1[j] = a.first;
      d2[j] = a.second;
      g[j] = a.first * pi_next[j];
    }
    for (int64_t k = 0; k < n; ++k) grad_x[k] = skip_ ? pi_next[k] : 0.0;
    for (int64_t j = 0; j < m; ++j) {
      const double* row = &W[j * n];
      const double g_j = g[j];
      for (int64_t k = 0; k < n; ++k) grad_x[k] += delta_ * row[k] * g_j;
    }
    for (int64_t k = 0; k < n; ++k) {
      e_p[k] = p_[i * n + k] - grad_x[k];
      costate += e_p[k] * e_p[k];
    }
    if (!gradient) continue;
    if (rho_p == 0.0) {  // no co-state term: its two products drop out of ∂F/∂θ
      for (int64_t j = 0; j < m; ++j) {
        grad_z[j] = delta_ * d1[j] * (-pi_next[j] - rho_ * e_x[j]);
        if (db) db[j] += grad_z[j];
        double* dW_row = &dW[j * n];
        const double grad_z_j = grad_z[j];
        for (int64_t k = 0; k < n; ++k) dW_row[k] += grad_z_j * xi[k];
      }
      continue;
    }
    for (int64_t j = 0; j < m; ++j) w_e[j] = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      const double* column = &W_t[k * m];
      const double e_k = e_p[k];
      for (int64_t j = 0; j < m; ++j) w_e[j] += column[j] * e_k;
    }
    for (int64_t j = 0; j < m; ++j) {
      grad_z[j] = delta_ * d1[j] * (-pi_next[j] - rho_ * e_x[j]) -
                  rho_p * delta_ * d2[j] * pi_next[j] * w_e[j];
      if (db) db[j] += grad_z[j];
      double* dW_row = &dW[j * n];
      const double grad_z_j = grad_z[j], g_j = g[j];
      for (int64_t k = 0; k < n; ++k) dW_row[k] += grad_z_j * xi[k] - rho_p * delta_ * g_j * e_p[k];
    }
  }
  double running_cost = 0.0;
  for (size_t i = 0; i < theta.size(); ++i) {
    running_cost += 0.5 * l2_ * theta[i] * theta[i] + l1_ * std::abs(theta[i]);
    if (gradient) (*gradient)[i] += l2_ * theta[i] + l1_ * double((theta[i] > 0) - (theta[i] < 0));
  }
  if (residuals) *residuals = {state, costate};
  const double penalty =
      rho_p == rho_ ? 0.5 * rho_ * (state + costate) : 0.5 * rho_ * state + 0.5 * rho_p * costate;
  return -hamiltonian + penalty + running_cost;
}

}  // namespace octrain::methods
