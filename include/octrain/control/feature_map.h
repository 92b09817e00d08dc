#pragma once

#include "octrain/control/stage.h"

namespace octrain::control {

// Parameter-free maps between feature widths, used to lift a low-dimensional input into a wider
// state space and to read it out again (the E-MSA toy: the scalar x copied into 5 coordinates,
// the output the sum of the 5 coordinates, docs/methods/msa.md).

// [F] → [F·copies]: the features repeated `copies` times.
class TileStage : public Stage {
 public:
  explicit TileStage(int64_t copies);
  torch::Tensor forward(const torch::Tensor& x) override { return x.repeat({1, copies_}); }
  StageKind kind() const override { return StageKind::kTile; }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  bool has_closed_form_vjp() const override { return true; }
  StageVjp vjp(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& p_next,
               bool need_costate, const LocalGraph* graph) override;
  int64_t copies() const { return copies_; }

 private:
  int64_t copies_;
};

// [F] → [F/groups]: consecutive blocks of F/`outputs` features summed, so `outputs` values remain.
class GroupSumStage : public Stage {
 public:
  explicit GroupSumStage(int64_t outputs);
  torch::Tensor forward(const torch::Tensor& x) override;
  StageKind kind() const override { return StageKind::kGroupSum; }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  bool has_closed_form_vjp() const override { return true; }
  StageVjp vjp(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& p_next,
               bool need_costate, const LocalGraph* graph) override;
  int64_t outputs() const { return outputs_; }

 private:
  int64_t outputs_;
};

}  // namespace octrain::control
