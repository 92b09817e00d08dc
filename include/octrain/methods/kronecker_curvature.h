#pragma once

#include <numeric>

#include "octrain/methods/stage_curvature.h"

namespace octrain::methods {

// Options of the Kronecker-factored curvature (docs/methods/baselines.md), in plain values so that
// every method that uses it (kfac, ekfac, DDPNOpt) fills them from its own option schema.
struct KroneckerOptions {
  double decay = 0.95;         // EMA rate of A, G (and of EKFAC's scaling S)
  double damping = 1e-3;       // λ: Tikhonov damping of M = A ⊗ G
  int64_t refresh_every = 10;  // N: inverses / eigenbases recomputed on step 1, N+1, 2N+1, …
  // Factors (and S) folded in on steps 1, k+1, 2k+1, … (K-FAC's T_cov). 1 is the plain
  // algorithm; the kfac/ekfac methods default to 10 because on a conv stage E[x̃x̃ᵀ] costs about
  // fan/out forward passes (measured: cnn4 K-FAC step 6.6× Adam's at 1, 1.2× at 10).
  int64_t stats_every = 1;
  bool eigenbasis = false;  // false: K-FAC; true: EKFAC
  // Steps after which statistics and refreshes repeat.
  int64_t period() const { return std::lcm(refresh_every, stats_every); }
};

// M ≈ A ⊗ G of one dense or conv2d stage — K-FAC (Martens & Grosse 2015; conv: Grosse &
// Martens 2016) or, with `eigenbasis`, EKFAC (George et al. 2018) — from the stage's rows x̃, g:
//   A = E[x̃ x̃ᵀ]            mean over rows (samples × output positions for conv),
//   G = E_s[Σ_pos g gᵀ]      mean over samples of the sum over positions (dense: E[g gᵀ]).
// The first observation sets the EMAs, later ones fold in: A ← decay·A + (1−decay)·A_step.
// On a layer-gradient matrix D [out, fan] (row-major vec) M acts as G D A, so
//   K-FAC:  M⁻¹D = (G + √λ/π·I)⁻¹ D (A + π√λ·I)⁻¹,   π = √((tr A/dim A)/(tr G/dim G)),
// the π split keeping both damped factors on the same scale. EKFAC keeps the eigenbases
// A = U_A Λ_A U_Aᵀ, G = U_G Λ_G U_Gᵀ and a scaling S [out, fan], reset to Λ_G Λ_Aᵀ at each
// refresh and folded in each statistics step with the second moment of the layer gradient
// projected on the basis, (1/B) Σ_rows (U_Gᵀg)² ((U_Aᵀx̃)²)ᵀ:
//   EKFAC:  M⁻¹D = U_G [(U_Gᵀ D U_A) / (S + λ)] U_Aᵀ.
// For a dense stage that second moment is exact per sample. For conv it treats the output
// positions as independent (the per-sample gradient Σ_pos g x̃ᵀ squared ≈ Σ_pos of the squares,
// i.e. the per-position second moment times L), the same approximation as the conv factors.
// Tensors follow the rows' dtype and device; the state is created on the first observation.
class KroneckerCurvature : public StageCurvature {
 public:
  // `fan` includes the bias column of x̃ when the stage has a bias.
  KroneckerCurvature(int64_t out, int64_t fan, KroneckerOptions options);

  // On steps where uses_rows() is false, only counts the step: `rows` may be empty.
  void observe(const LayerRows& rows, const torch::Tensor& mean_gradient) override;
  bool uses_rows() const override;
  torch::Tensor solve(const torch::Tensor& gradient) const override;
  torch::Tensor sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                            const torch::Tensor& v) const override;
  void save(torch::serialize::OutputArchive& archive, const std::string& prefix) const override;
  void load(torch::serialize::InputArchive& archive, const std::string& prefix) override;

  const KroneckerOptions& options() const { return options_; }
  int64_t steps() const { return steps_; }
  int64_t refreshes() const override { return refreshes_; }
  // The EMA factors A [fan, fan] and G [out, out] (undefined before the first observation).
  const torch::Tensor& input_factor() const { return A_; }
  const torch::Tensor& output_factor() const { return G_; }
  // K-FAC: the damped inverses of the last refresh; EKFAC: eigenbases and scaling.
  const torch::Tensor& input_inverse() const { return A_inverse_; }
  const torch::Tensor& output_inverse() const { return G_inverse_; }
  const torch::Tensor& input_basis() const { return U_A_; }
  const torch::Tensor& output_basis() const { return U_G_; }
  const torch::Tensor& scaling() const { return S_; }

 private:
  bool due(int64_t every) const { return steps_ % every == 0; }
  void refresh();
  void fold_in_scaling(const LayerRows& rows);
  template <typename Self>
  static auto state_tensors(Self& self);

  int64_t out_, fan_;
  KroneckerOptions options_;
  int64_t steps_ = 0;      // observations so far
  int64_t refreshes_ = 0;  // inverse / eigenbasis computations so far
  torch::Tensor A_, G_;
  torch::Tensor A_inverse_, G_inverse_;  // K-FAC
  torch::Tensor U_A_, U_G_, S_;          // EKFAC
};

// The fallback block of the Kronecker methods for a trainable stage without an affine layer
// (batch norm's scale γ and shift β): the exact diagonal of the Fisher the Kronecker blocks
// approximate, M = diag(F) + λ with F the EMA of E_s[g_s ⊙ g_s] over the per-sample control
// gradients g_s = ∂φ_s/∂θ (LayerRows::sample_gradients), folded in on the statistics steps of
// `options` (stats_every, decay). Layer matrices are the flat [1, N] form of stage_curvature.h.
class DiagonalFisherCurvature : public StageCurvature {
 public:
  DiagonalFisherCurvature(int64_t controls, KroneckerOptions options);
  void observe(const LayerRows& rows, const torch::Tensor& mean_gradient) override;
  bool uses_rows() const override { return steps_ % options_.stats_every == 0; }
  torch::Tensor solve(const torch::Tensor& gradient) const override;
  // Not used: DDPNOpt's value recursion needs a layer (it refuses stages without one).
  torch::Tensor sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                            const torch::Tensor& v) const override;
  void save(torch::serialize::OutputArchive& archive, const std::string& prefix) const override;
  void load(torch::serialize::InputArchive& archive, const std::string& prefix) override;
  const torch::Tensor& fisher_diagonal() const { return fisher_; }

 private:
  int64_t controls_;
  KroneckerOptions options_;
  int64_t steps_ = 0;
  torch::Tensor fisher_;  // F [1, N]; undefined before the first statistics step
};

}  // namespace octrain::methods
