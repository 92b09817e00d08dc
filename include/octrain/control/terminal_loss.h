#pragma once

#include <torch/types.h>

#include <memory>
#include <string>

namespace octrain::control {

// The terminal cost Φ(x_T, y) of docs/methods/README.md, as a batch mean.
class TerminalLoss {
 public:
  virtual ~TerminalLoss() = default;
  virtual std::string name() const = 0;
  // True when targets are class labels (int64 [S]); false for real targets (float [S, K]).
  virtual bool classification() const { return true; }

  struct Evaluation {
    torch::Tensor value;    // scalar (1/S) Σ_s Φ(x_{s,T}, y_s)
    torch::Tensor costate;  // p_T = −∇_{x_T} value, undefined unless requested
  };
  virtual Evaluation evaluate(const torch::Tensor& x_T, const torch::Tensor& y,
                              bool need_costate) const = 0;
  // Predicted class per sample (int64 [S]); only for classification losses.
  virtual torch::Tensor predict_class(const torch::Tensor& x_T) const { return x_T.argmax(1); }
  // Throws UsageError when the network's output dimension cannot serve this loss.
  virtual void check_output(int64_t output_dim, int64_t num_classes) const;
  // One random z_s [S, K] per sample with E[z zᵀ] = ∇²φ_s(x_T) (the per-sample cost, not the
  // batch mean), where the loss has a closed-form sampler; undefined otherwise. Draws from torch's
  // global generator.
  virtual torch::Tensor sample_hessian_factor(const torch::Tensor& x_T) const { return {}; }
};

// Softmax cross-entropy.
class CrossEntropyLoss : public TerminalLoss {
 public:
  std::string name() const override { return "cross-entropy"; }
  Evaluation evaluate(const torch::Tensor& x_T, const torch::Tensor& y,
                      bool need_costate) const override;
  // p − e_ŷ with ŷ drawn from p = softmax(x_T): E[(p − e_ŷ)(p − e_ŷ)ᵀ] = diag(p) − ppᵀ.
  torch::Tensor sample_hessian_factor(const torch::Tensor& x_T) const override;
};

// Mean squared error over all output coordinates: mean_{s,k} (x_{s,T,k} − y_{s,k})².
class MeanSquaredErrorLoss : public TerminalLoss {
 public:
  std::string name() const override { return "mse"; }
  bool classification() const override { return false; }
  Evaluation evaluate(const torch::Tensor& x_T, const torch::Tensor& y,
                      bool need_costate) const override;
  void check_output(int64_t output_dim, int64_t num_classes) const override;
};

// Squared ("smooth") hinge: mean_{s,k} max(0, 1 − ỹ_{s,k} z_{s,k})² with ỹ = 2·onehot − 1.
class SquaredHingeLoss : public TerminalLoss {
 public:
  std::string name() const override { return "squared-hinge"; }
  Evaluation evaluate(const torch::Tensor& x_T, const torch::Tensor& y,
                      bool need_costate) const override;
};

// Max-Mahalanobis centres: ½‖x_T − μ_y‖² with fixed, maximally separated class centres of norm
// `scale` (Pang et al. 2018); prediction is the nearest centre. Needs output_dim ≥ classes.
class MaxMahalanobisLoss : public TerminalLoss {
 public:
  MaxMahalanobisLoss(int64_t num_classes, int64_t dim, double scale);
  std::string name() const override { return "mmc"; }
  Evaluation evaluate(const torch::Tensor& x_T, const torch::Tensor& y,
                      bool need_costate) const override;
  torch::Tensor predict_class(const torch::Tensor& x_T) const override;
  void check_output(int64_t output_dim, int64_t num_classes) const override;
  const torch::Tensor& centres() const { return centres_; }

 private:
  torch::Tensor centres_;  // [classes, dim], pairwise inner products −scale²/(classes−1)
};

// "cross-entropy" (alias "ce"), "mse", "squared-hinge" (alias "hinge"), "mmc[:scale=10]".
std::unique_ptr<TerminalLoss> make_terminal_loss(const std::string& spec, int64_t num_classes,
                                                 int64_t output_dim);

}  // namespace octrain::control
