#include "octrain/methods/stage_curvature.h"

#include "octrain/control/stage.h"
#include "octrain/methods/layer_maps.h"

namespace octrain::methods {
namespace {

void require_layer(control::Stage& stage) {
  require_linear_layer(stage);  // one check and message for every layer map
}

torch::Tensor append_ones(const torch::Tensor& rows) {
  auto ones_shape = rows.sizes().vec();
  ones_shape.back() = 1;
  return torch::cat({rows, torch::ones(ones_shape, rows.options())}, -1);
}

}  // namespace

bool has_layer_curvature(control::Stage& stage) {
  return stage.linear_layer() != nullptr && stage.control_set() == control::ControlSet::kReal &&
         stage.trainable();
}

torch::Tensor layer_inputs(control::Stage& stage, const torch::Tensor& x) {
  require_layer(stage);
  const auto rows = stage.linear_layer()->patches(x);
  return stage.linear_layer()->layer_has_bias() ? append_ones(rows) : rows;
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

LayerRows sample_gradient_rows(control::Stage& stage, const torch::Tensor& x,
                               const torch::Tensor& output_grad) {
  LayerRows rows;
  rows.batch_size = x.size(0);
  rows.sample_gradients = stage.per_sample_control_gradients(x, output_grad);
  return rows;
}

torch::Tensor to_layer_matrix(control::Stage& stage, const std::vector<torch::Tensor>& controls) {
  if (!stage.linear_layer()) {
    std::vector<torch::Tensor> flat;
    for (const auto& c : controls) flat.push_back(c.reshape({-1}));
    return torch::cat(flat).unsqueeze(0);
  }
  require_layer(stage);
  auto weight = controls.at(0).reshape({controls[0].size(0), -1});
  return controls.size() == 2 ? torch::cat({weight, controls[1].unsqueeze(1)}, 1) : weight;
}

std::vector<torch::Tensor> from_layer_matrix(control::Stage& stage, const torch::Tensor& matrix) {
  const auto controls = stage.controls();
  if (!stage.linear_layer()) {
    std::vector<torch::Tensor> out;
    int64_t offset = 0;
    for (const auto& c : controls) {
      out.push_back(matrix.narrow(-1, offset, c.numel()).reshape(c.sizes()));
      offset += c.numel();
    }
    return out;
  }
  require_layer(stage);
  const int64_t fan = controls[0].numel() / controls[0].size(0);
  std::vector<torch::Tensor> out{matrix.narrow(-1, 0, fan).reshape(controls[0].sizes())};
  if (controls.size() == 2) out.push_back(matrix.select(-1, fan).reshape(controls[1].sizes()));
  return out;
}

}  // namespace octrain::methods
