#include "octrain/methods/stage_curvature.h"

#include <fmt/format.h>

#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {

bool has_bias(control::Stage& stage) {
  return stage.controls().size() == 2;
}

void require_layer(control::Stage& stage) {
  if (!has_layer_curvature(stage))
    throw UsageError(
        fmt::format("{}: curvature needs a real dense or conv2d stage", stage.describe()));
}

torch::Tensor append_ones(const torch::Tensor& rows) {
  auto ones_shape = rows.sizes().vec();
  ones_shape.back() = 1;
  return torch::cat({rows, torch::ones(ones_shape, rows.options())}, -1);
}

}  // namespace

bool has_layer_curvature(control::Stage& stage) {
  const auto kind = stage.kind();
  return (kind == control::StageKind::kDense || kind == control::StageKind::kConv2d) &&
         stage.control_set() == control::ControlSet::kReal && stage.trainable();
}

torch::Tensor layer_inputs(control::Stage& stage, const torch::Tensor& x) {
  require_layer(stage);
  torch::Tensor rows;
  if (stage.kind() == control::StageKind::kDense) {
    rows = x.unsqueeze(1);  // [B, 1, in]
  } else {
    auto& conv = static_cast<control::Conv2dStage&>(stage);
    const int64_t k = conv.kernel(), s = conv.stride(), p = conv.padding();
    rows = torch::im2col(x, {k, k}, {1, 1}, {p, p}, {s, s}).transpose(1, 2);  // [B, L, in·k·k]
  }
  return has_bias(stage) ? append_ones(rows) : rows;
}

LayerRows layer_rows(control::Stage& stage, const torch::Tensor& x,
                     const torch::Tensor& output_grad) {
  LayerRows rows;
  rows.batch_size = x.size(0);
  const auto inputs = layer_inputs(stage, x);
  rows.inputs = inputs.reshape({-1, inputs.size(2)});
  rows.output_grads =
      output_grad.dim() == 2
          ? output_grad
          : output_grad.flatten(2).transpose(1, 2).reshape({-1, output_grad.size(1)});
  return rows;
}

torch::Tensor to_layer_matrix(control::Stage& stage, const std::vector<torch::Tensor>& controls) {
  require_layer(stage);
  auto weight = controls.at(0).reshape({controls[0].size(0), -1});
  return controls.size() == 2 ? torch::cat({weight, controls[1].unsqueeze(1)}, 1) : weight;
}

std::vector<torch::Tensor> from_layer_matrix(control::Stage& stage, const torch::Tensor& matrix) {
  require_layer(stage);
  const auto controls = stage.controls();
  const int64_t fan = controls[0].numel() / controls[0].size(0);
  std::vector<torch::Tensor> out{matrix.narrow(-1, 0, fan).reshape(controls[0].sizes())};
  if (controls.size() == 2) out.push_back(matrix.select(-1, fan).reshape(controls[1].sizes()));
  return out;
}

}  // namespace octrain::methods
