#pragma once

#include "octrain/control/stage.h"

namespace octrain::control {

// Batch normalisation over features ([F]) or channels ([C,H,W]) with scale γ and offset β as
// controls. Training uses batch statistics and updates running averages (libtorch convention:
// running ← (1−momentum)·running + momentum·batch); evaluation uses the running averages.
class BatchNormStage : public Stage {
 public:
  BatchNormStage(int64_t features, double eps = 1e-5, double momentum = 0.1);
  torch::Tensor forward(const torch::Tensor& x) override;
  StageKind kind() const override { return StageKind::kBatchNorm; }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  // Closed form: ∂⟨v_s, y_s⟩/∂γ = Σ_pos v_s ⊙ x̂_s, ∂/∂β = Σ_pos v_s, x̂ normalised with the batch
  // statistics in training (the running ones in evaluation), as forward() does.
  torch::Tensor per_sample_control_gradients(const torch::Tensor& x,
                                             const torch::Tensor& v) override;

  int64_t features() const { return features_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  torch::Tensor gamma, beta;                // controls
  torch::Tensor running_mean, running_var;  // buffers, saved with the model

 private:
  int64_t features_;
  double eps_, momentum_;
};

}  // namespace octrain::control
