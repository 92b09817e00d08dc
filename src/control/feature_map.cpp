#include "octrain/control/feature_map.h"

#include <fmt/format.h>

#include "octrain/util/error.h"

namespace octrain::control {

TileStage::TileStage(int64_t copies) : Stage("Tile"), copies_(copies) {
  if (copies <= 0) throw UsageError(fmt::format("Tile: copies must be positive, got {}", copies));
}

std::string TileStage::describe() const {
  return fmt::format("Tile ×{}", copies_);
}

Shape TileStage::output_shape(const Shape& input) const {
  if (input.size() != 1)
    throw UsageError(fmt::format("{}: expects a flat input, got {}", describe(), to_string(input)));
  return {input[0] * copies_};
}

StageVjp TileStage::vjp(const torch::Tensor& x, const torch::Tensor&, const torch::Tensor& p_next,
                        bool need_costate, const LocalGraph*) {
  StageVjp out;
  if (need_costate) out.costate = p_next.view({x.size(0), copies_, x.size(1)}).sum(1);
  return out;
}

GroupSumStage::GroupSumStage(int64_t outputs) : Stage("GroupSum"), outputs_(outputs) {
  if (outputs <= 0)
    throw UsageError(fmt::format("GroupSum: outputs must be positive, got {}", outputs));
}

torch::Tensor GroupSumStage::forward(const torch::Tensor& x) {
  return x.view({x.size(0), outputs_, x.size(1) / outputs_}).sum(2);
}

std::string GroupSumStage::describe() const {
  return fmt::format("GroupSum →{}", outputs_);
}

Shape GroupSumStage::output_shape(const Shape& input) const {
  if (input.size() != 1 || input[0] % outputs_ != 0)
    throw UsageError(fmt::format("{}: expects a flat input whose size is a multiple of {}, got {}",
                                 describe(), outputs_, to_string(input)));
  return {outputs_};
}

StageVjp GroupSumStage::vjp(const torch::Tensor& x, const torch::Tensor&,
                            const torch::Tensor& p_next, bool need_costate, const LocalGraph*) {
  StageVjp out;
  if (need_costate)
    out.costate =
        p_next.unsqueeze(2).expand({x.size(0), outputs_, x.size(1) / outputs_}).reshape(x.sizes());
  return out;
}

}  // namespace octrain::control
