#pragma once

#include <functional>

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

  // Synchronised batch norm (data-parallel runs): training uses the statistics of the global
  // batch. `sum` adds a tensor over every process (an all-reduce); `weight` is this process's
  // share of the global batch (local/global samples), the factor between its batch-mean
  // co-states and the global objective's. The sums are differentiable — the VJP of a sum over
  // the processes is the weighted sum of their co-states, whose own VJP is the plain sum again —
  // so state and control VJPs (also second order) are those of the global batch. Every process
  // must run the same forwards. Unset (the default): each process's own batch, as PyTorch's DDP.
  struct Synchronisation {
    std::function<torch::Tensor(const torch::Tensor&)> sum;
    std::function<double()> weight;
  };
  void synchronise(Synchronisation sync) { sync_ = std::move(sync); }
  bool synchronised() const { return bool(sync_.sum); }

  int64_t features() const { return features_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  torch::Tensor gamma, beta;                // controls
  torch::Tensor running_mean, running_var;  // buffers, saved with the model

 private:
  // The batch's mean and biased variance per feature ([F] each, differentiable) and its values
  // per feature; over every process when synchronised.
  struct Statistics {
    torch::Tensor mean, var;
    double count;
  };
  Statistics batch_statistics(const torch::Tensor& x) const;

  int64_t features_;
  double eps_, momentum_;
  Synchronisation sync_;
};

}  // namespace octrain::control
