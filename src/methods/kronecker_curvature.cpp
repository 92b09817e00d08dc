#include "octrain/methods/kronecker_curvature.h"

#include <fmt/format.h>
#include <torch/linalg.h>
#include <torch/serialize.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>
#include <stdexcept>

#include "octrain/methods/work_count.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {

// EMA fold-in; the first observation initialises.
void fold_in(torch::Tensor& ema, const torch::Tensor& step, double decay) {
  if (!ema.defined())
    ema = step;
  else
    ema.mul_(decay).add_(step, 1.0 - decay);
}

double mean_diagonal(const torch::Tensor& factor) {
  return factor.diagonal().sum().item<double>() / static_cast<double>(factor.size(0));
}

// In double precision: OpenBLAS's single-precision triangular kernel (strsm_kernel_RT_PRESCOTT,
// reached through spotri) smashed the stack on this machine's CPU in `octrain bench`; the factors
// are small, so the double-precision inverse costs little and is the more accurate one.
torch::Tensor spd_inverse(const torch::Tensor& matrix) {
  const auto m = matrix.to(torch::kDouble);
  return torch::cholesky_inverse(torch::linalg::cholesky(m)).to(matrix.scalar_type());
}

torch::Tensor with_diagonal(const torch::Tensor& matrix, double shift) {
  return matrix + shift * torch::eye(matrix.size(0), matrix.options());
}

void read_scalar(torch::serialize::InputArchive& archive, const std::string& key, int64_t& into) {
  torch::Tensor value;
  archive.read(key, value);
  into = value.item<int64_t>();
}

}  // namespace

KroneckerCurvature::KroneckerCurvature(int64_t out, int64_t fan, KroneckerOptions options)
    : out_(out), fan_(fan), options_(options) {
  if (options_.refresh_every < 1 || options_.stats_every < 1 || options_.damping <= 0 ||
      options_.decay < 0 || options_.decay > 1)
    throw std::invalid_argument(fmt::format(
        "KroneckerCurvature: invalid options decay={} damping={} refresh_every={} stats_every={}",
        options_.decay, options_.damping, options_.refresh_every, options_.stats_every));
}

bool KroneckerCurvature::uses_rows() const {
  return due(options_.stats_every);
}

void KroneckerCurvature::observe(const LayerRows& rows, const torch::Tensor& mean_gradient) {
  torch::NoGradGuard no_grad;
  const bool statistics = uses_rows();
  if (statistics) {
    if (!rows.inputs.defined() || rows.inputs.size(1) != fan_ || rows.output_grads.size(1) != out_)
      throw std::logic_error(fmt::format("KroneckerCurvature [{}×{}]: step {} needs the layer rows",
                                         out_, fan_, steps_ + 1));
    const auto& x = rows.inputs;
    const auto& g = rows.output_grads;
    count_flops(matmul_flops(fan_, x.size(0), fan_) + matmul_flops(out_, g.size(0), out_));
    std::vector<torch::Tensor> factors{x.t().mm(x).div_(static_cast<double>(x.size(0))),
                                       g.t().mm(g).div_(static_cast<double>(rows.batch_size))};
    if (rows.shard) rows.shard->mean(factors);  // one all-reduce for both
    fold_in(A_, factors[0], options_.decay);
    fold_in(G_, factors[1], options_.decay);
  }
  if (due(options_.refresh_every)) refresh();
  if (options_.eigenbasis && statistics) fold_in_scaling(rows);
  ++steps_;
}

void KroneckerCurvature::refresh() {
  ++refreshes_;
  const double damping = options_.damping;
  if (options_.eigenbasis) {
    count_flops(symmetric_eigen_flops(fan_) + symmetric_eigen_flops(out_));
    auto [eig_A, U_A] = torch::linalg::eigh(A_, "L");
    auto [eig_G, U_G] = torch::linalg::eigh(G_, "L");
    U_A_ = U_A;
    U_G_ = U_G;
    // Round-off can leave tiny negative eigenvalues of the PSD factors.
    S_ = torch::outer(eig_G.clamp_min(0), eig_A.clamp_min(0));
    return;
  }
  // π = √((tr A/dim A)/(tr G/dim G)); 1 when a factor is zero (e.g. zero-initialised weights).
  const double ratio = mean_diagonal(A_) / mean_diagonal(G_);
  const double pi = std::isfinite(ratio) && ratio > 0 ? std::sqrt(ratio) : 1.0;
  count_flops(spd_inverse_flops(fan_) + spd_inverse_flops(out_));
  A_inverse_ = spd_inverse(with_diagonal(A_, pi * std::sqrt(damping)));
  G_inverse_ = spd_inverse(with_diagonal(G_, std::sqrt(damping) / pi));
}

// S ← decay·S + (1−decay)·(1/B) Σ_rows (U_Gᵀg)² ((U_Aᵀx̃)²)ᵀ.
void KroneckerCurvature::fold_in_scaling(const LayerRows& rows) {
  const int64_t n = rows.inputs.size(0);
  count_flops(matmul_flops(n, out_, out_) + matmul_flops(n, fan_, fan_) +
              matmul_flops(out_, n, fan_));
  const auto g_projected = rows.output_grads.mm(U_G_).square_();
  const auto x_projected = rows.inputs.mm(U_A_).square_();
  auto moment = g_projected.t().mm(x_projected).div_(static_cast<double>(rows.batch_size));
  if (rows.shard) rows.shard->mean(moment);
  S_.mul_(options_.decay).add_(moment, 1.0 - options_.decay);
}

torch::Tensor KroneckerCurvature::solve(const torch::Tensor& gradient) const {
  if (steps_ == 0) throw std::logic_error("KroneckerCurvature::solve before any observation");
  torch::NoGradGuard no_grad;
  // G⁻¹ D A⁻¹, or twice that in the eigenbases.
  count_flops((options_.eigenbasis ? 2 : 1) *
              (matmul_flops(out_, out_, fan_) + matmul_flops(out_, fan_, fan_)));
  if (!options_.eigenbasis) return G_inverse_.matmul(gradient).matmul(A_inverse_);
  const auto projected = U_G_.t().matmul(gradient).matmul(U_A_);
  return U_G_.matmul(projected / (S_ + options_.damping)).matmul(U_A_.t());
}

// K-FAC: ⟨u x̃ᵀ, G⁻¹ v x̃ᵀ A⁻¹⟩ = (x̃ᵀA⁻¹x̃)(uᵀG⁻¹v).
// EKFAC: Σ_{o,i} (U_Gᵀu)_o (U_Gᵀv)_o (U_Aᵀx̃)_i² / (S + λ)_{oi}.
torch::Tensor KroneckerCurvature::sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                                              const torch::Tensor& v) const {
  if (steps_ == 0) throw std::logic_error("KroneckerCurvature::sample_form before any observation");
  torch::NoGradGuard no_grad;
  const int64_t samples = inputs.size(0);
  count_flops(options_.eigenbasis
                  ? matmul_flops(samples, fan_, fan_) + matmul_flops(samples, fan_, out_) +
                        2 * matmul_flops(samples, out_, out_)
                  : matmul_flops(samples, fan_, fan_) + matmul_flops(samples, out_, out_));
  if (!options_.eigenbasis)
    return (inputs.mm(A_inverse_) * inputs).sum(1) * (u.matmul(G_inverse_) * v).sum(-1);
  const auto x_projected = inputs.mm(U_A_).square_();
  const auto per_output = x_projected.mm((S_ + options_.damping).reciprocal().t());  // [B, out]
  return (u.matmul(U_G_) * v.matmul(U_G_) * per_output).sum(-1);
}

// The state tensors by key: the factors, then what the last refresh computed from them.
template <typename Self>
auto KroneckerCurvature::state_tensors(Self& self) {
  using Entry = std::pair<const char*, decltype(&self.A_)>;
  if (self.options_.eigenbasis)
    return std::vector<Entry>{{"A", &self.A_},
                              {"G", &self.G_},
                              {"U_A", &self.U_A_},
                              {"U_G", &self.U_G_},
                              {"S", &self.S_}};
  return std::vector<Entry>{{"A", &self.A_},
                            {"G", &self.G_},
                            {"A_inverse", &self.A_inverse_},
                            {"G_inverse", &self.G_inverse_}};
}

void KroneckerCurvature::save(torch::serialize::OutputArchive& archive,
                              const std::string& prefix) const {
  archive.write(prefix + "steps", torch::tensor(steps_, torch::kInt64));
  archive.write(prefix + "refreshes", torch::tensor(refreshes_, torch::kInt64));
  if (steps_ == 0) return;
  for (const auto& [key, tensor] : state_tensors(*this)) archive.write(prefix + key, *tensor);
}

void KroneckerCurvature::load(torch::serialize::InputArchive& archive, const std::string& prefix) {
  read_scalar(archive, prefix + "steps", steps_);
  read_scalar(archive, prefix + "refreshes", refreshes_);
  for (const auto& [key, tensor] : state_tensors(*this)) {
    // Fresh tensors: the saved state is taken as it is, not copied into this one's.
    *tensor = torch::Tensor();
    if (steps_ > 0) archive.read(prefix + key, *tensor);
  }
  if (steps_ > 0 && (A_.size(0) != fan_ || G_.size(0) != out_))
    throw DataError(
        fmt::format("kronecker curvature '{}': saved factors are [{}], [{}], expected [{}], [{}]",
                    prefix, A_.size(0), G_.size(0), fan_, out_));
}

DiagonalFisherCurvature::DiagonalFisherCurvature(int64_t controls, KroneckerOptions options)
    : controls_(controls), options_(options) {}

void DiagonalFisherCurvature::observe(const LayerRows& rows, const torch::Tensor&) {
  torch::NoGradGuard no_grad;
  if (uses_rows()) {
    const auto& g = rows.sample_gradients;
    if (!g.defined() || g.size(1) != controls_)
      throw std::logic_error(
          fmt::format("DiagonalFisherCurvature [{}]: step {} needs the per-sample gradients",
                      controls_, steps_ + 1));
    auto moment = g.square().mean(0, /*keepdim=*/true);
    if (rows.shard) rows.shard->mean(moment);  // over the global batch
    fold_in(fisher_, moment, options_.decay);
  }
  ++steps_;
}

torch::Tensor DiagonalFisherCurvature::solve(const torch::Tensor& gradient) const {
  if (!fisher_.defined()) return gradient / options_.damping;
  return gradient / (fisher_ + options_.damping);
}

torch::Tensor DiagonalFisherCurvature::sample_form(const torch::Tensor&, const torch::Tensor&,
                                                   const torch::Tensor&) const {
  throw std::logic_error("DiagonalFisherCurvature: no per-sample layer form");
}

void DiagonalFisherCurvature::save(torch::serialize::OutputArchive& archive,
                                   const std::string& prefix) const {
  archive.write(prefix + "steps", torch::tensor(steps_, torch::kInt64));
  if (fisher_.defined()) archive.write(prefix + "fisher", fisher_);
}

void DiagonalFisherCurvature::load(torch::serialize::InputArchive& archive,
                                   const std::string& prefix) {
  read_scalar(archive, prefix + "steps", steps_);
  fisher_ = torch::Tensor();
  torch::Tensor fisher;
  if (archive.try_read(prefix + "fisher", fisher)) fisher_ = fisher;
  if (fisher_.defined() && fisher_.numel() != controls_)
    throw UsageError(fmt::format("checkpoint: {}fisher has {} entries, the stage has {} controls",
                                 prefix, fisher_.numel(), controls_));
}

}  // namespace octrain::methods
