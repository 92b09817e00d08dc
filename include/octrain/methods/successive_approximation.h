#pragma once

#include <vector>

#include "octrain/methods/lbfgs.h"
#include "octrain/methods/method.h"

namespace octrain::methods {

// [EMSA] Li, Chen, Tai & E, "Maximum Principle Based Algorithms for Deep Learning" (2018):
// the method of successive approximations. Each step sweeps states and co-states once, then
// every trainable stage independently (and concurrently) minimises, by L-BFGS,
//   msa:  −Σ_s H_t + L_t        (basic MSA: maximise the Hamiltonian; may oscillate)
//   emsa: F_t = −Σ_s H_t + L_t + ρ/2 (state and co-state feasibility penalties)
// See AugmentedHamiltonian and docs/methods/msa.md.
class SuccessiveApproximation : public Method {
 public:
  // `name` is msa or emsa; `options` parsed from schema_for(name).
  SuccessiveApproximation(const std::string& name, OptionValues options, control::Network& network);
  static OptionSchema schema_for(const std::string& name);

  std::string name() const override { return name_; }
  StepStats step(control::Network& network, const control::TerminalLoss& loss,
                 const torch::Tensor& x, const torch::Tensor& y) override;
  // The update applied is θ_old + scale·(θ* − θ_old): a damped maximisation step.
  void set_learning_rate_scale(double scale) override { step_scale_ = scale; }
  void set_compute_threads(int threads) override;
  // Stateless between steps (the trajectory is recomputed each step).
  void save(torch::serialize::OutputArchive&) const override {}
  void load(torch::serialize::InputArchive&) override {}

 private:
  std::string name_;
  std::vector<size_t> trainable_;      // indices of the stages that are solved
  std::vector<double> rho_;            // penalty ρ per trainable stage (0 for basic MSA)
  bool first_costate_penalty_ = true;  // ρ on the first trainable stage's co-state gap too
  LbfgsOptions lbfgs_;                 // from the options, once
  double perturbation_ = 0.0;          // ε of the warm start θ + ε·U(−1, 1)
  double step_scale_ = 1.0;
  int threads_ = 1;
};

}  // namespace octrain::methods
