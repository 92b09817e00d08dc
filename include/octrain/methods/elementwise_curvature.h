#pragma once

#include "octrain/methods/stage_curvature.h"

namespace octrain::methods {

// M = I: with it and no feedback DDPNOpt is SGD (docs/methods/ddpnopt.md, Proposition 2).
class IdentityCurvature : public StageCurvature {
 public:
  void observe(const LayerRows&, const torch::Tensor&) override {}
  bool uses_rows() const override { return false; }
  torch::Tensor solve(const torch::Tensor& gradient) const override { return gradient; }
  torch::Tensor sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                            const torch::Tensor& v) const override;
  void save(torch::serialize::OutputArchive&, const std::string&) const override {}
  void load(torch::serialize::InputArchive&, const std::string&) override {}
};

// M = diag(√v̂) + ε with v the EMA of the squared batch-mean gradient Q_u ⊙ Q_u: RMSprop's
// denominator (v̂ = v), or Adam's with bias correction (v̂ = v / (1 − β₂ᵗ)). The symbols and the
// order of operations follow torch::optim so the reductions hold to rounding; on CPU float and
// double, v and M are one pass of the fused optimisers' kernels (elementwise_kernels.h).
class DiagonalCurvature : public StageCurvature {
 public:
  DiagonalCurvature(double beta2, double eps, bool bias_correction)
      : beta2_(beta2), eps_(eps), bias_correction_(bias_correction) {}
  void observe(const LayerRows& rows, const torch::Tensor& mean_gradient) override;
  // v ← v + (1 − β₂)(applied² − observed²): as if `applied` had been observed.
  void revise(const torch::Tensor& observed, const torch::Tensor& applied) override;
  bool uses_rows() const override { return false; }
  torch::Tensor solve(const torch::Tensor& gradient) const override;
  // Adam's update on this M: moment ← β₁·moment + (1 − β₁)·direction, returns M⁻¹moment·scale.
  torch::Tensor preconditioned_moment(torch::Tensor& moment, const torch::Tensor& direction,
                                      double beta1, double scale) const;
  torch::Tensor sample_form(const torch::Tensor& inputs, const torch::Tensor& u,
                            const torch::Tensor& v) const override;
  void save(torch::serialize::OutputArchive& archive, const std::string& prefix) const override;
  void load(torch::serialize::InputArchive& archive, const std::string& prefix) override;

 private:
  void refresh_denominator();
  double root_correction() const;  // √(1 − β₂ᵗ), or 1 without bias correction

  double beta2_, eps_;
  bool bias_correction_;
  torch::Tensor second_moment_;  // v
  int64_t steps_ = 0;            // observations so far
  torch::Tensor denominator_;    // √v̂ + ε, [out, fan(+1)], refreshed by observe() and load()
};

}  // namespace octrain::methods
