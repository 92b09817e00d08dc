#include "octrain/methods/value_model.h"

#include <fmt/format.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/linalg.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "octrain/control/stage.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/layer_maps.h"
#include "octrain/methods/stage_curvature.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {

// Per-sample Q_ux of a FULL dense stage has B·in·out·fan entries; beyond this the factored
// form is the only sensible choice.
constexpr int64_t kMaxFullEntries = 50'000'000;
// Conv stages form per-sample control gradients [B, out, fan] from patches [B, L, fan]; chunks
// of samples bound the patches' memory.
constexpr int64_t kSampleChunk = 16;
// Power iteration for λ_max of the closed-loop gain: a diagnostic and a step-size cap, for which
// two digits are plenty.
constexpr int kPowerIterations = 30;
constexpr double kPowerTolerance = 1e-2;

torch::Tensor flat(const torch::Tensor& t) {
  return t.reshape({t.size(0), -1});
}

// v [B] broadcast against a tensor shaped like `like` [B, …].
torch::Tensor per_sample(const torch::Tensor& v, const torch::Tensor& like) {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return v.reshape(shape);
}

torch::Tensor sample_dot(const torch::Tensor& a, const torch::Tensor& b) {
  return (flat(a) * flat(b)).sum(1);
}

// A FACTORED V_xx of rank K per sample holds its factors as [K·B, …], draw or column k of every
// sample in rows [k·B, (k + 1)·B). Rank 1 is the plain [B, …] of Proposition 3.
int64_t factor_rank(const torch::Tensor& factor, int64_t batch) {
  return factor.size(0) / batch;
}

// t [B, …] repeated for every factor column: [K·B, …].
torch::Tensor tile(const torch::Tensor& t, int64_t rank) {
  if (rank == 1 || !t.defined()) return t;
  std::vector<int64_t> repeats(t.dim(), 1);
  repeats[0] = rank;
  return t.repeat(repeats);
}

// Σ_k of a folded [K·B, …] tensor: [B, …].
torch::Tensor fold_sum(const torch::Tensor& t, int64_t rank) {
  if (rank == 1) return t;
  std::vector<int64_t> shape{rank, t.size(0) / rank};
  shape.insert(shape.end(), t.sizes().begin() + 1, t.sizes().end());
  return t.view(shape).sum(0);
}

// A per-rank sum over this rank's samples → the global batch's (data-parallel runs).
double batch_sum(const LayerValueOptions& o, double local) {
  return o.batch && o.batch->distributed() ? o.batch->sum(local) : local;
}

// c in V_xx = Q_xx − c·η Q_xu M⁻¹ Q_ux (see ValueScale).
double correction_weight(const LayerValueOptions& o, int64_t batch) {
  if (o.batch && o.batch->distributed()) batch = o.batch->global_size();
  return o.value_scale == ValueScale::kBatch ? 1.0 / double(batch) : 1.0;
}

// d [B, n] added to the diagonal of a FULL [B, n, n] or AUGMENTED [B, n, B, n] Hessian.
void add_to_diagonal(torch::Tensor& hessian, const torch::Tensor& d) {
  if (hessian.dim() == 3) {
    hessian.diagonal(0, 1, 2).add_(d);
  } else {
    const int64_t n = d.numel();
    hessian.view({n, n}).diagonal().add_(d.reshape({n}));
  }
}

// The symmetric blocks of V_xx as a batch of matrices: [B, n, n] (FULL) or [1, Bn, Bn].
torch::Tensor as_matrices(const torch::Tensor& hessian) {
  if (hessian.dim() == 3) return hessian;
  const int64_t n = hessian.size(0) * hessian.size(1);
  return hessian.reshape({1, n, n});
}

// Fraction of negative eigenvalues (below −1e-10 of the largest magnitude) of the blocks.
double negative_eigenvalue_fraction(const torch::Tensor& hessian) {
  const auto eigenvalues = torch::linalg::eigvalsh(as_matrices(hessian), "L");
  const double largest = eigenvalues.abs().max().item<double>();
  return eigenvalues.lt(-1e-10 * largest).to(torch::kDouble).mean().item<double>();
}

// The positive-semidefinite part U max(Λ, 0) Uᵀ of each block.
torch::Tensor positive_part(const torch::Tensor& hessian) {
  const auto [eigenvalues, vectors] = torch::linalg::eigh(as_matrices(hessian), "L");
  const auto projected =
      vectors.matmul(eigenvalues.clamp_min(0).unsqueeze(2) * vectors.transpose(1, 2));
  return projected.reshape(hessian.sizes());
}

// ⟨g_uᵀz_s, M⁻¹ g_uᵀz_s⟩ and (when v is defined) ⟨g_uᵀz_s, M⁻¹ g_uᵀv_s⟩ per sample: closed form
// for dense stages, explicit per-sample control gradients in chunks for conv stages.
std::pair<torch::Tensor, torch::Tensor> sample_forms(control::Stage& stage, const torch::Tensor& x,
                                                     const StageCurvature& curvature,
                                                     const torch::Tensor& z,
                                                     const torch::Tensor& v) {
  if (require_linear_layer(stage).is_matrix()) {
    const auto inputs = layer_inputs(stage, x).squeeze(1);
    if (!v.defined()) return {curvature.sample_form(inputs, z, z), torch::Tensor()};
    const auto forms = curvature.sample_form(inputs, z.expand({2, -1, -1}), torch::stack({z, v}));
    return {forms[0], forms[1]};
  }
  std::vector<torch::Tensor> zz, zv;
  for (int64_t s = 0; s < x.size(0); s += kSampleChunk) {
    const int64_t n = std::min(kSampleChunk, x.size(0) - s);
    const auto xs = x.narrow(0, s, n);
    const auto gz = per_sample_control_vjp(stage, xs, z.narrow(0, s, n));
    const auto solved = curvature.solve(gz);  // M is symmetric: ⟨g_z, M⁻¹g_v⟩ = ⟨M⁻¹g_z, g_v⟩
    zz.push_back((gz * solved).sum({1, 2}));
    if (v.defined())
      zv.push_back((per_sample_control_vjp(stage, xs, v.narrow(0, s, n)) * solved).sum({1, 2}));
  }
  return {torch::cat(zz), v.defined() ? torch::cat(zv) : torch::Tensor()};
}

// S_s[k, l] = ⟨g_uᵀz_s^k, M⁻¹ g_uᵀz_s^l⟩ [B, K, K] for a rank-K factor z [K·B, …] at the layer's
// output: the K×K matrix that takes the place of the scalar ⟨q_u, M⁻¹q_u⟩ in Proposition 3.
torch::Tensor sample_form_matrices(control::Stage& stage, const torch::Tensor& x,
                                   const StageCurvature& curvature, const torch::Tensor& z,
                                   int64_t rank) {
  const int64_t batch = x.size(0);
  if (require_linear_layer(stage).is_matrix()) {
    const auto inputs = layer_inputs(stage, x).squeeze(1);
    const auto columns = z.reshape({rank, 1, batch, -1});
    const auto rows = z.reshape({1, rank, batch, -1});
    return curvature
        .sample_form(inputs, columns.expand({rank, rank, batch, -1}),
                     rows.expand({rank, rank, batch, -1}))
        .permute({2, 0, 1});
  }
  std::vector<torch::Tensor> forms;
  std::vector<int64_t> shape{rank, batch};
  shape.insert(shape.end(), z.sizes().begin() + 1, z.sizes().end());
  const auto columns = z.view(shape);
  for (int64_t s = 0; s < batch; s += kSampleChunk) {
    const int64_t n = std::min(kSampleChunk, batch - s);
    auto zs = columns.narrow(1, s, n).flatten(0, 1);
    const auto gz = per_sample_control_vjp(stage, tile(x.narrow(0, s, n), rank), zs);
    const auto solved = curvature.solve(gz);
    const auto g = gz.reshape({rank, n, -1}).transpose(0, 1);                  // [n, K, F]
    forms.push_back(g.bmm(solved.reshape({rank, n, -1}).permute({1, 2, 0})));  // [n, K, K]
  }
  return torch::cat(forms);
}

// Q_xu^(s)[m, j, k] = Σ_t (Wᵀ V_hh^(s,t))[m, j] x̃_t[k] for an AUGMENTED V_hh [s, i, t, j]: the
// per-sample Q_xu with every cross-sample block folded in, [B, in, out, fan].
torch::Tensor cross_state_products(const torch::Tensor& v_hh, const torch::Tensor& weight,
                                   const torch::Tensor& inputs) {
  const auto wv = v_hh.permute({0, 2, 3, 1}).matmul(weight);  // [s, t, j, m]
  return wv.permute({0, 3, 2, 1}).matmul(inputs);             // [s, m, j, k]
}

LayerValue full_layer_value(control::Stage& stage, const torch::Tensor& x,
                            const LayerCoupling& coupling, const ValueModel& next,
                            const StageCurvature& curvature, const torch::Tensor& running_gradient,
                            const torch::Tensor& mean_direction, const LayerValueOptions& o) {
  if (!require_linear_layer(stage).is_matrix() || coupling.skip || coupling.slope.defined())
    throw UsageError(
        fmt::format("{}: value_hessian=full supports dense stages only; use value_hessian=factored",
                    stage.describe()));
  const auto inputs = layer_inputs(stage, x).squeeze(1);  // x̃ [B, fan]
  const auto weight = stage.controls()[0];                // W [out, in]
  const int64_t batch = x.size(0), in = weight.size(1), out = weight.size(0), fan = inputs.size(1);
  if (batch * in * out * fan > kMaxFullEntries)
    throw UsageError(
        fmt::format("{}: value_hessian=full would form {}×{}×{}×{} per-sample Q_ux entries; use "
                    "value_hessian=factored",
                    stage.describe(), batch, in, out, fan));
  const auto& v_h = next.gradient;  // [B, out]
  const auto& v_hh = next.hessian;  // [B, out, out] or [B, out, B, out]
  // Q_xu^(s)[m, (j,k)] = Σ_s' (Wᵀ V_hh^(s,s'))[m, j] x̃_s'[k] (only s' = s without cross blocks),
  // plus V_h e_mᵀ in the weight block with second-order dynamics.
  auto q_ux = (next.augmented() ? cross_state_products(v_hh, weight, inputs)
                                : v_hh.matmul(weight).transpose(1, 2).unsqueeze(3) *
                                      inputs.unsqueeze(1).unsqueeze(2))
                  .contiguous();
  if (o.second_order) q_ux.narrow(3, 0, in).diagonal(0, 1, 3).add_(v_h.unsqueeze(-1));
  torch::Tensor gain;  // k = −η M⁻¹ Q_u, per sample [B, out, fan] or the batch step [out, fan]
  if (o.per_sample_gain) {
    auto q_u = v_h.unsqueeze(2) * inputs.unsqueeze(1);
    if (running_gradient.defined()) q_u = q_u + running_gradient;
    gain = curvature.solve(q_u).mul(-o.lr);
  } else {
    gain = mean_direction.mul(-o.lr).expand({batch, out, fan});
  }
  LayerValue result{};
  // Flattened control index (j,k): the products over it are batched matrix products.
  const auto q_flat = q_ux.view({batch, in, out * fan});
  result.value.gradient =
      (v_h.mm(weight) + q_flat.bmm(gain.reshape({batch, out * fan, 1})).squeeze(2))
          .reshape(x.sizes());
  const double correction = o.lr * correction_weight(o, batch);
  const auto solved = curvature.solve(q_ux);
  const auto solved_flat = solved.reshape({batch, in, out * fan});
  torch::Tensor v_xx;
  if (next.augmented()) {
    // [s,m,t,n] = Σ_ij W[i,m] V_hh[s,i,t,j] W[j,n] − c·η Σ_jk Q_xu^(s)[m,jk] (M⁻¹Q_ux^(t))[n,jk]
    const auto wvw = v_hh.matmul(weight).permute({0, 2, 3, 1}).matmul(weight);  // [s,t,n,m]
    v_xx = wvw.permute({0, 3, 1, 2}) -
           correction * q_flat.reshape({batch * in, out * fan})
                            .mm(solved_flat.reshape({batch * in, out * fan}).t())
                            .view({batch, in, batch, in});
    v_xx = v_xx.contiguous();  // the activation stage and the diagonal views need it
  } else {
    v_xx = weight.t().matmul(v_hh).matmul(weight) -
           correction * q_flat.bmm(solved_flat.transpose(1, 2));
  }
  if (o.tikhonov > 0) add_to_diagonal(v_xx, torch::full({batch, in}, o.tikhonov, x.options()));
  if (o.diagnostics) result.negative_fraction = negative_eigenvalue_fraction(v_xx);
  if (o.positive_part) v_xx = positive_part(v_xx);
  result.value.hessian = v_xx;
  return result;
}

LayerValue factored_layer_value(control::Stage& stage, const torch::Tensor& x,
                                const LayerCoupling& coupling, const ValueModel& next,
                                const StageCurvature& curvature,
                                const torch::Tensor& running_gradient,
                                const torch::Tensor& mean_direction, const LayerValueOptions& o) {
  const int64_t batch = x.size(0), rank = factor_rank(next.factor, batch);
  // A rank-K factor is K factors of the same samples: the per-sample maps see x (and the residual
  // slope) once per column; sums over the batch then run over every column, as V_xx = Σ_k z_k z_kᵀ.
  const auto x_k = tile(x, rank);
  const LayerCoupling coupling_k{coupling.skip, tile(coupling.slope, rank)};
  // At the layer's output h: v_h = slope ⊙ V'_x and z_h = slope ⊙ z' (the same as at the stage's
  // output for a plain layer). With a skip, Q_x and q_x gain the identity branch's V'_x and z'.
  const auto v_h = coupling.to_layer(next.gradient);
  const auto z = coupling_k.to_layer(next.factor);
  // ⟨q_u, M⁻¹q_u⟩ per sample (rank 1; rank K takes the K×K forms below) and, for the per-sample
  // gain, ⟨q_u, M⁻¹g_uᵀv_h⟩ per column.
  torch::Tensor zz, zv;
  if (rank == 1 || o.per_sample_gain)
    std::tie(zz, zv) = sample_forms(stage, x_k, curvature, z,
                                    o.per_sample_gain ? tile(v_h, rank) : torch::Tensor());
  torch::Tensor k_dot;  // z_hᵀ g_u k per column: the scalar by which Q_uxᵀ k = q_x (z_hᵀ g_u k)
  if (o.per_sample_gain) {
    if (running_gradient.defined())
      zv = zv + sample_dot(z, tile(layer_apply(stage, x, curvature.solve(running_gradient)), rank));
    k_dot = zv.mul(-o.lr);
  } else {
    k_dot = sample_dot(z, tile(layer_apply(stage, x, mean_direction * -o.lr), rank));
  }
  const double weight = o.lr * correction_weight(o, batch);
  // λ_s: the sample's own gain Ĝ_ss (rank K: λ_max of its K×K block w·S_s).
  const auto forms =
      rank == 1 ? torch::Tensor() : sample_form_matrices(stage, x, curvature, z, rank) * weight;
  const auto own_gain = rank == 1 ? zz * weight : torch::linalg::eigvalsh(forms, "L").select(1, -1);
  const auto own_trace = rank == 1 ? own_gain : forms.diagonal(0, 1, 2).sum(1);  // tr of Ĝ_ss
  LayerValue result{};
  // Ĝ is positive semi-definite, so λ_max(Ĝ) ≤ tr(Ĝ) = Σ_s λ_s: where the trace is at most 1
  // the spectral cap is 1 and its power iteration can be skipped (not for the diagnostics).
  const bool cap_can_bind =
      o.cap == FeedbackCap::kSpectral && batch_sum(o, own_trace.sum().item<double>()) > 1.0;
  if (o.diagnostics || cap_can_bind) {
    auto gain = closed_loop_gain(stage, x_k, z, curvature, weight, o.gain_start, o.batch);
    result.gain = gain.value;
    result.gain_direction = std::move(gain.direction);
  }
  if (o.cap == FeedbackCap::kSample) {
    result.feedback_scale = own_gain.clamp_min(1.0).reciprocal();
    k_dot = k_dot * tile(result.feedback_scale, rank);
  } else if (o.cap == FeedbackCap::kSpectral) {
    // Beyond λ_max(Ĝ) = 1 the quadratic model with Q_uu ≈ M/η over-predicts this stage's step,
    // so the step's effect on V_x (Q_xu k̄) is trusted no more than the feedback: both scale by s.
    const double scale = 1.0 / std::max(1.0, result.gain);
    result.feedback_scale = torch::full({batch}, scale, z.options());
    k_dot = k_dot * scale;
  }
  // The policy δu = k + sK δx has V_xx = Q_xx − (2s − s²) Q_xu Q_uu⁻¹ Q_ux (s = 1 uncapped), so
  // the factor's image g_xᵀz is scaled by the square root of R = I − (2s − s²)·w·S (rank 1: a
  // scalar radicand), negative eigenvalues of R clamped to zero.
  const auto& s = result.feedback_scale;
  const auto shrink = s.defined() ? 2.0 * s - s.square() : torch::Tensor();
  torch::Tensor radicand, eigenvalues, eigenvectors;
  if (rank == 1) {
    radicand = 1.0 - (shrink.defined() ? own_gain * shrink : own_gain);
    eigenvalues = radicand.unsqueeze(1);
  } else {
    const auto scaled = shrink.defined() ? forms * shrink.view({batch, 1, 1}) : forms;
    std::tie(eigenvalues, eigenvectors) =
        torch::linalg::eigh(torch::eye(rank, forms.options()).expand_as(forms) - scaled, "L");
  }
  result.radicand_clamps = eigenvalues.lt(0).sum().item<int64_t>();
  if (o.diagnostics)
    result.negative_fraction = double(result.radicand_clamps) / double(eigenvalues.numel());
  result.value.gradient = layer_state_vjp(stage, x, v_h + fold_sum(z * per_sample(k_dot, z), rank));
  if (coupling.skip)
    result.value.gradient +=
        next.gradient + fold_sum(next.factor * per_sample(k_dot, next.factor), rank);
  if (!o.need_factor) return result;
  result.state_factor = layer_state_vjp(stage, x_k, z);
  if (coupling.skip) result.state_factor += next.factor;
  if (rank == 1) {
    result.value.factor =
        result.state_factor * per_sample(radicand.clamp_min(0).sqrt(), result.state_factor);
  } else {
    // Z_new = (g_xᵀZ) R^½ per sample, R^½ = U √max(Λ, 0) Uᵀ: [k·B + s] = Σ_l [l·B + s] R^½_s[l, k].
    const auto root = eigenvectors.matmul(eigenvalues.clamp_min(0).sqrt().unsqueeze(2) *
                                          eigenvectors.transpose(1, 2));  // [B, K, K]
    const auto columns = result.state_factor.reshape({rank, batch, -1});
    result.value.factor = torch::einsum("lbn,blk->kbn", {columns, root.to(columns.dtype())})
                              .reshape(result.state_factor.sizes());
  }
  // ε_V accumulates stage to stage as in the paper's Algorithm 3; the factored form keeps the
  // diagonal of its image g_xᵀ diag(e) g_x (with a skip: of (I + D g_x)ᵀ diag(e) (I + D g_x),
  // D = diag(slope), without the cross term 2 e ⊙ D ⊙ diag(g_x), which needs g_x's diagonal).
  torch::Tensor tikhonov;
  if (next.tikhonov.defined()) {
    const auto e_h =
        coupling.slope.defined() ? next.tikhonov * coupling.slope.square() : next.tikhonov;
    tikhonov = layer_state_diagonal_vjp(stage, x, e_h);
    if (coupling.skip) tikhonov += next.tikhonov;
  }
  if (o.tikhonov > 0)
    tikhonov = tikhonov.defined() ? tikhonov + o.tikhonov : torch::full_like(x, o.tikhonov);
  result.value.tikhonov = tikhonov;
  return result;
}

}  // namespace

torch::Tensor per_sample_hessian(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                                 const torch::Tensor& y) {
  torch::AutoGradMode enable(true);
  const auto x = x_T.detach().reshape({x_T.size(0), -1}).requires_grad_(true);
  const auto total = loss.evaluate(x.view(x_T.sizes()), y, false).value * double(x.size(0));
  const auto grad = torch::autograd::grad({total}, {x}, {}, true, true)[0];
  std::vector<torch::Tensor> rows;
  for (int64_t k = 0; k < x.size(1); ++k) {
    auto row = torch::autograd::grad({grad.select(1, k).sum()}, {x}, {}, true, false, true)[0];
    rows.push_back(row.defined() ? row : torch::zeros_like(x));
  }
  return torch::stack(rows, 1).detach();
}

torch::Tensor sampled_terminal_factor(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                                      const torch::Tensor& y, const dist::BatchReducer* shard) {
  if (shard && shard->distributed()) {
    // Draw for the whole global batch, our rows in place, and keep ours: torch's samplers
    // consume the generator element by element, so the draws do not depend on the world size.
    const auto pad = [&](const torch::Tensor& t) {
      std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
      shape[0] = shard->global_size();
      auto out = torch::zeros(shape, t.options());
      out.slice(0, shard->offset(), shard->offset() + t.size(0)).copy_(t);
      return out;
    };
    return sampled_terminal_factor(loss, pad(x_T), pad(y))
        .slice(0, shard->offset(), shard->offset() + x_T.size(0));
  }
  auto z = loss.sample_hessian_factor(x_T);
  if (z.defined()) return z;
  const auto [eigenvalues, vectors] = torch::linalg::eigh(per_sample_hessian(loss, x_T, y), "L");
  const auto noise = torch::randn(eigenvalues.sizes(), eigenvalues.options());
  return vectors.matmul((eigenvalues.clamp_min(0).sqrt() * noise).unsqueeze(2)).squeeze(2);
}

torch::Tensor exact_terminal_factor(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                                    const torch::Tensor& y) {
  // ∇²φ_s = U_s Λ_s U_sᵀ: column k of every sample is √max(λ_k, 0) u_k, folded as [K·B, …].
  const auto [eigenvalues, vectors] = torch::linalg::eigh(per_sample_hessian(loss, x_T, y), "L");
  const auto columns = vectors * eigenvalues.clamp_min(0).sqrt().unsqueeze(1);  // [B, K, K]
  std::vector<int64_t> shape{x_T.size(0) * columns.size(2)};
  shape.insert(shape.end(), x_T.sizes().begin() + 1, x_T.sizes().end());
  return columns.permute({2, 0, 1}).reshape(shape).to(x_T.dtype());
}

torch::Tensor averaged_terminal_factor(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                                       const torch::Tensor& y, int64_t draws,
                                       const dist::BatchReducer* shard) {
  if (draws < 1) throw std::invalid_argument("averaged_terminal_factor: draws < 1");
  std::vector<torch::Tensor> columns;
  for (int64_t k = 0; k < draws; ++k)
    columns.push_back(sampled_terminal_factor(loss, flat(x_T), y, shard).view(x_T.sizes()));
  if (draws == 1) return columns.front();
  // (1/D) Σ_k z_k z_kᵀ = Σ_k (z_k/√D)(z_k/√D)ᵀ.
  return torch::cat(columns).div_(std::sqrt(double(draws)));
}

ValueModel terminal_value(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                          const torch::Tensor& y, ValueHessian mode, bool exact_terminal,
                          double* loss_value, TerminalFactor factor,
                          const dist::BatchReducer* shard, int64_t draws) {
  const auto evaluation = loss.evaluate(x_T, y, true);
  if (loss_value) *loss_value = evaluation.value.item<double>();
  ValueModel value;
  value.gradient = evaluation.costate * -double(x_T.size(0));  // p_T = −(1/B)∇φ
  if (mode == ValueHessian::kFull || mode == ValueHessian::kAugmented) {
    const auto g = flat(value.gradient);
    auto blocks =
        exact_terminal ? per_sample_hessian(loss, x_T, y) : g.unsqueeze(2) * g.unsqueeze(1);
    // The terminal cost is a sum over samples: no cross-sample blocks at x_T.
    value.hessian =
        mode == ValueHessian::kFull
            ? blocks
            : torch::einsum("sij,st->sitj", {blocks, torch::eye(x_T.size(0), blocks.options())});
  } else if (mode == ValueHessian::kFactored) {
    value.factor = factor == TerminalFactor::kOuter ? value.gradient
                   : factor == TerminalFactor::kExact
                       ? exact_terminal_factor(loss, x_T, y)
                       : averaged_terminal_factor(loss, x_T, y, draws, shard);
  }
  return value;
}

ValueModel stage_free_value(control::Stage& stage, const torch::Tensor& x, const torch::Tensor& y,
                            const ValueModel& next, bool second_order) {
  auto back = [&](const torch::Tensor& v) { return stage.vjp(x, y, v, true, nullptr).costate; };
  ValueModel value;
  value.gradient = back(next.gradient);
  const auto slope_x = stage.elementwise_slope(x, y);  // defined for activations
  if (next.factored()) {
    const int64_t rank = factor_rank(next.factor, x.size(0));
    value.factor =
        rank == 1 ? back(next.factor)
                  : stage.vjp(tile(x, rank), tile(y, rank), next.factor, true, nullptr).costate;
    if (next.tikhonov.defined() && slope_x.defined())
      value.tikhonov = next.tikhonov * slope_x.square();
    else if (next.tikhonov.defined() && stage.is_reshape())
      value.tikhonov = next.tikhonov.reshape(x.sizes());
  }
  if (next.full()) {
    if (slope_x.defined()) {
      const auto slope = flat(slope_x);
      value.hessian = next.augmented() ? slope.unsqueeze(2).unsqueeze(3) * next.hessian * slope
                                       : slope.unsqueeze(2) * next.hessian * slope.unsqueeze(1);
      if (second_order)
        add_to_diagonal(value.hessian,
                        flat(next.gradient) * flat(stage.elementwise_curvature(x, y)));
    } else if (stage.is_reshape()) {
      value.hessian = next.hessian;
    } else {
      throw UsageError(
          fmt::format("{}: value_hessian=full passes only activation and flatten stages; use "
                      "value_hessian=factored",
                      stage.describe()));
    }
  }
  return value;
}

LayerValue layer_value(control::Stage& stage, const torch::Tensor& x, const LayerCoupling& coupling,
                       const ValueModel& next, const StageCurvature& curvature,
                       const torch::Tensor& running_gradient, const torch::Tensor& mean_direction,
                       const LayerValueOptions& options) {
  if (next.full())
    return full_layer_value(stage, x, coupling, next, curvature, running_gradient, mean_direction,
                            options);
  if (next.factored())
    return factored_layer_value(stage, x, coupling, next, curvature, running_gradient,
                                mean_direction, options);
  LayerValue result{};
  result.value.gradient = layer_state_vjp(stage, x, coupling.to_layer(next.gradient));
  if (coupling.skip) result.value.gradient += next.gradient;
  return result;
}

LayerValue layer_value(control::Stage& stage, const torch::Tensor& x, const ValueModel& next,
                       const StageCurvature& curvature, const torch::Tensor& running_gradient,
                       const torch::Tensor& mean_direction, const LayerValueOptions& options) {
  return layer_value(stage, x, LayerCoupling{}, next, curvature, running_gradient, mean_direction,
                     options);
}

ClosedLoopGain closed_loop_gain(control::Stage& stage, const torch::Tensor& x,
                                const torch::Tensor& z, const StageCurvature& curvature,
                                double weight, const torch::Tensor& start,
                                const dist::BatchReducer* batch) {
  // Power iteration on Ĝv = w Qᵀ M⁻¹ (Q v) in sample space: Q v = g_uᵀ(z ⊙ v) is one weight
  // gradient, Qᵀu = (z·g_u u)_s one layer product. Ĝ is positive semi-definite, so the Rayleigh
  // quotient converges to λ_max from below. The samples change every step but the parameter-space
  // direction u = M⁻¹Qv of the top eigenvector changes slowly: seeded with Qᵀu of the last step's
  // u, two or three iterations reach 1 %.
  // Data-parallel: v lives on every rank's samples, so Qv and the dot products are summed.
  const auto& shards = batch ? *batch : dist::BatchReducer::single_process();
  const auto global_norm = [&](const torch::Tensor& t) {
    if (!shards.distributed()) return t.norm().item<double>();
    return std::sqrt(shards.sum(t.square().sum().item<double>()));
  };
  torch::Tensor v;
  if (start.defined()) v = sample_dot(z, layer_apply(stage, x, start));
  if (!v.defined() || global_norm(v) == 0.0) v = torch::ones({x.size(0)}, z.options());
  v = v / global_norm(v);
  ClosedLoopGain out;
  for (int iteration = 0; iteration < kPowerIterations; ++iteration) {
    auto qv = layer_control_vjp(stage, x, z * per_sample(v, z));
    shards.sum(qv);
    auto u = curvature.solve(qv);
    const auto gv = sample_dot(z, layer_apply(stage, x, u)) * weight;
    std::vector<double> sums{(gv * v).sum().item<double>(),
                             shards.distributed() ? gv.square().sum().item<double>() : 0.0};
    shards.sum(sums);
    const double quotient = sums[0];
    const double norm = shards.distributed() ? std::sqrt(sums[1]) : gv.norm().item<double>();
    out.direction = u;
    if (norm == 0.0) return {0.0, u};
    v = gv / norm;
    const bool converged =
        iteration > 0 && std::abs(quotient - out.value) <= kPowerTolerance * std::abs(quotient);
    out.value = quotient;
    if (converged) break;
  }
  out.direction = out.direction / std::max(out.direction.norm().item<double>(), 1e-300);
  return out;
}

torch::Tensor feedback_gradient(control::Stage& stage, const torch::Tensor& x,
                                const ValueModel& next, const torch::Tensor& delta_x,
                                bool second_order, const torch::Tensor& sample_scale,
                                const torch::Tensor& state_factor, const LayerCoupling& coupling) {
  torch::Tensor r;  // V'_xx a at the stage's output, a = δy = (skip ? δx : 0) + slope ⊙ g_x δx
  const int64_t rank = next.factored() ? factor_rank(next.factor, x.size(0)) : 1;
  if (next.factored() && !next.tikhonov.defined() && state_factor.defined()) {
    // Σ_k z_k (z_k·a) with z_k·a = q_x,k·δx.
    r = fold_sum(
        next.factor * per_sample(sample_dot(state_factor, tile(delta_x, rank)), next.factor), rank);
  } else {
    auto a = coupling.to_layer(layer_state_jvp(stage, delta_x));
    if (coupling.skip) a = a + delta_x;
    if (next.augmented()) {
      const int64_t n = a.numel();
      r = next.hessian.reshape({n, n}).mv(a.reshape({n})).view(a.sizes());
    } else if (next.full()) {
      r = next.hessian.bmm(flat(a).unsqueeze(2)).squeeze(2).view(a.sizes());
    } else {
      r = fold_sum(next.factor * per_sample(sample_dot(next.factor, tile(a, rank)), next.factor),
                   rank);
      if (next.tikhonov.defined()) r = r + next.tikhonov * a;
    }
  }
  if (sample_scale.defined()) r = r * per_sample(sample_scale, r);
  auto feedback = layer_control_vjp(stage, x, coupling.to_layer(r));
  if (second_order) {
    auto g_ux = layer_control_vjp(stage, delta_x, next.gradient);
    if (stage.controls().size() == 2) g_ux.select(1, g_ux.size(1) - 1).zero_();
    feedback += g_ux;
  }
  return feedback;
}

}  // namespace octrain::methods
