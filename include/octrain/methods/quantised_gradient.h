#pragma once

#include <torch/optim/optimizer.h>

#include "octrain/methods/method.h"

namespace octrain::methods {

// The quantised-weight baselines of docs/methods/discrete-msa.md in the same pipeline as
// msa-discrete:
//   binaryconnect  θ = sign(w), latent w clipped to [−1, 1]           (binary stages)
//   bwn            θ = sign(w), per-output scale α = mean|w|          (binary stages)
//   twn            Δ = 0.7·mean|w|, θ = sign(w)·[|w| > Δ], α = mean of the surviving |w|
//                                                                      (ternary stages)
// The method keeps the latent real weights w (saved with its state); each stage holds the
// deployable θ and α, rewritten after every update. The straight-through estimate dθ/dw = 1
// (α held constant) makes ∂J/∂w = −∂(Σ_s H_t)/∂θ_t; the chosen torch::optim optimiser steps w
// and the real stages' controls (batch norm) together.
class QuantisedGradient : public Method {
 public:
  // `name` is one of binaryconnect, bwn, twn.
  QuantisedGradient(const std::string& name, OptionValues options, control::Network& network);
  static OptionSchema schema_for(const std::string& name);

  std::string name() const override { return name_; }
  StepStats step(control::Network& network, const control::TerminalLoss& loss,
                 const torch::Tensor& x, const torch::Tensor& y) override;
  void set_learning_rate_scale(double scale) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  // The latent real weights w of stage t (for inspection and tests).
  const torch::Tensor& latent_weights(size_t t) const;

 private:
  struct LatentStage {
    size_t t;
    torch::Tensor w;  // latent real weights, shape of θ_t
  };
  // Writes θ = Q(w) and α into stage d.t; returns the number of entries of θ that changed.
  int64_t quantise_into(control::Network& network, const LatentStage& d) const;

  std::string name_;
  enum class Kind { kBinaryConnect, kBwn, kTwn } kind_;
  std::vector<LatentStage> latent_;
  std::vector<size_t> real_stages_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
};

}  // namespace octrain::methods
