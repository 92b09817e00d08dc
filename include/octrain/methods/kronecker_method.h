#pragma once

#include <memory>

#include "octrain/methods/kronecker_curvature.h"
#include "octrain/methods/method.h"

namespace octrain::methods {

// K-FAC (Martens & Grosse 2015; conv layers: Grosse & Martens 2016) and EKFAC (George et al.
// 2018) as baselines (docs/methods/baselines.md): from one sweep, every dense/conv2d stage folds
// its rows x̃_t and per-sample pre-activation gradients g = ∂φ_s/∂h = −B·p_{t+1} into its
// KroneckerCurvature M_t and steps θ_t ← θ_t − lr·M_t⁻¹ ∂J/∂θ_t (with optional heavy-ball
// momentum on the preconditioned direction, and optional KL clipping of Ba, Grosse & Martens
// 2017 that shrinks a step whose predicted change lr²·Σ_t⟨M_t⁻¹∇_t, ∇_t⟩ exceeds κ: K-FAC's
// M⁻¹ is only as good as its stale factors, and small batches with small damping overshoot),
// through the update chain of update_transforms.h that DDPNOpt shares.
// Curvature blocks per stage: Kronecker factors for every real affine layer (dense, conv2d, the
// inner layer of a residual stage, whose rows take g = δσ'(h) ⊙ ∂φ_s/∂x_{t+1}), the diagonal
// Fisher (DiagonalFisherCurvature) for any other real trainable stage (batch norm).
class KroneckerMethod : public Method {
 public:
  // `name` is kfac or ekfac; `options` parsed from schema_for(name).
  KroneckerMethod(const std::string& name, OptionValues options, control::Network& network);
  static OptionSchema schema_for(const std::string& name);
  // The curvature options of `options` (for any method whose schema declares them).
  static KroneckerOptions curvature_options(const OptionValues& options, bool eigenbasis);

  std::string name() const override { return name_; }
  StepStats step(control::Network& network, const control::TerminalLoss& loss,
                 const torch::Tensor& x, const torch::Tensor& y) override;
  void set_learning_rate_scale(double scale) override { lr_scale_ = scale; }
  int64_t work_period() const override {
    return curvature_options(options_, name_ == "ekfac").period();
  }
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  struct Layer {
    size_t t;                                   // stage index
    std::unique_ptr<StageCurvature> curvature;  // M_t: Kronecker, or the diagonal fallback
    torch::Tensor velocity;                     // momentum buffer [out, fan(+1)]
  };
  std::string name_;
  std::vector<Layer> layers_;
  double lr_ = 0.0, momentum_ = 0.0, kl_clip_ = 0.0;  // from the options, once
  double lr_scale_ = 1.0;
};

}  // namespace octrain::methods
