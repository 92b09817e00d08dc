#pragma once

#include "octrain/methods/stage_curvature.h"

namespace octrain::methods {

// Vanilla DDP's M_t (docs/methods/ddpnopt.md): the exact Gauss-Newton
//   Q_uu = ℓ_uu + (1/B) Σ_s,s' g_u^(s)ᵀ V_hh^(s,s') g_u^(s')   (+ damping·I)
// of a dense stage, rebuilt every step from the value Hessian V_hh at the stage's output:
// FULL [B, out, out] (s' = s only) or AUGMENTED [B, out, B, out] (every cross-sample block).
class ExactCurvature : public StageCurvature {
 public:
  explicit ExactCurvature(double damping) : damping_(damping) {}

  // `inputs` are the stage's x̃ [B, fan(+1)]; `l2` the running cost's ℓ_uu = l2·I. With a
  // data-parallel `shard` (FULL blocks only) the batch mean is reduced over the ranks.
  void set_value_hessian(const torch::Tensor& inputs, const torch::Tensor& v_hh, double l2,
                         const dist::BatchReducer* shard = nullptr) override;
  void observe(const LayerRows&, const torch::Tensor&) override {}
  bool uses_rows() const override { return false; }
  torch::Tensor solve(const torch::Tensor& gradient) const override;
  torch::Tensor sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                            const torch::Tensor& v) const override;
  // Rebuilt every step: nothing to resume.
  void save(torch::serialize::OutputArchive&, const std::string&) const override {}
  void load(torch::serialize::InputArchive&, const std::string&) override {}

 private:
  double damping_;
  torch::Tensor matrix_;  // Q_uu [(out·fan), (out·fan)]
};

}  // namespace octrain::methods
