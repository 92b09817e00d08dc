#pragma once

#include <torch/optim/optimizer.h>

#include "octrain/methods/method.h"

namespace octrain::methods {

// Discrete-weight MSA (docs/methods/discrete-msa.md): from one shared sweep, every Binary/Ternary
// stage updates its EMA E ← αE + (1−α)M of M = ∂(Σ_s p_{t+1}·f_t)/∂θ_t and applies the closed-form
// rule of discrete_msa_rule.h; real stages (batch norm) take an Adam step on −H. Once every
// `decay_every` steps (or after each epoch) (1−α) ← d·(1−α). Ternary stages carry the running
// cost λ‖θ‖₁.
class DiscreteMsa : public Method {
 public:
  DiscreteMsa(OptionValues options, control::Network& network);
  static OptionSchema schema();

  std::string name() const override { return "msa-discrete"; }
  StepStats step(control::Network& network, const control::TerminalLoss& loss,
                 const torch::Tensor& x, const torch::Tensor& y) override;
  void end_epoch(int64_t epoch) override;
  std::map<std::string, double> epoch_extras() const override;
  void set_learning_rate_scale(double scale) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  double alpha() const { return alpha_; }  // the rate the next step uses
  int64_t steps() const { return steps_; }

 private:
  struct DiscreteStage {
    size_t t;         // stage index
    bool ternary;     // else binary
    torch::Tensor E;  // EMA of M_t
  };
  std::vector<DiscreteStage> discrete_;
  std::vector<size_t> real_stages_;
  std::unique_ptr<torch::optim::Optimizer> real_optimizer_;  // Adam on −H for real stages
  // The rules' constants, from the options once.
  double rho_binary_, rho_ternary_, lambda_, decay_;
  bool alpha_float32_;
  double alpha_;
  int64_t decay_every_;  // steps between decays of (1 − α); 0: after each epoch
  int64_t steps_ = 0;    // steps taken, for the step schedule (state, like α)
};

}  // namespace octrain::methods
