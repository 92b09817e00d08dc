#include "octrain/methods/layer_maps.h"

#include <fmt/format.h>

#include "octrain/control/activation.h"
#include "octrain/control/stage.h"
#include "octrain/methods/stage_curvature.h"
#include "octrain/methods/work_count.h"
#include "octrain/util/error.h"

namespace octrain::methods {

control::LinearLayer& require_linear_layer(control::Stage& stage) {
  auto* layer = has_layer_curvature(stage) ? stage.linear_layer() : nullptr;
  if (!layer)
    throw UsageError(
        fmt::format("{}: needs a real dense or conv2d layer (alone or inside a residual stage)",
                    stage.describe()));
  return *layer;
}

LayerCoupling layer_coupling(control::Stage& stage, const torch::Tensor& x) {
  const auto form = stage.layer_form();
  LayerCoupling coupling;
  coupling.skip = form.skip;
  if (form.activation == control::Activation::kIdentity && form.delta == 1.0) return coupling;
  auto& layer = require_linear_layer(stage);
  count_flops(layer_product_flops(stage, x));  // h recomputed
  const auto controls = stage.controls();
  const auto h = layer.apply(x, controls[0], controls.size() == 2 ? controls[1] : torch::Tensor());
  const auto sigma = control::apply_activation(form.activation, h);
  coupling.slope =
      control::activation_backward(form.activation, h, sigma, torch::ones_like(h)).mul_(form.delta);
  return coupling;
}

torch::Tensor layer_apply(control::Stage& stage, const torch::Tensor& x,
                          const torch::Tensor& matrix) {
  count_flops(layer_product_flops(stage, x));
  auto controls = from_layer_matrix(stage, matrix);
  const auto bias = controls.size() == 2 ? controls[1] : torch::Tensor();
  return require_linear_layer(stage).apply(x, controls[0], bias);
}

torch::Tensor layer_state_jvp(control::Stage& stage, const torch::Tensor& delta_x) {
  count_flops(layer_product_flops(stage, delta_x));
  return require_linear_layer(stage).apply(delta_x, stage.controls()[0], torch::Tensor());
}

torch::Tensor layer_state_vjp(control::Stage& stage, const torch::Tensor& x,
                              const torch::Tensor& v) {
  count_flops(layer_product_flops(stage, x));
  return require_linear_layer(stage).input_vjp(stage.controls()[0], x, v);
}

torch::Tensor layer_state_diagonal_vjp(control::Stage& stage, const torch::Tensor& x,
                                       const torch::Tensor& e) {
  // (g_xᵀ diag(e) g_x)_mm = Σ_i e_i (∂h_i/∂x_m)², and ∂h_i/∂x_m is a weight entry.
  count_flops(layer_product_flops(stage, x));
  return require_linear_layer(stage).input_vjp(stage.controls()[0].square(), x, e);
}

torch::Tensor layer_control_vjp(control::Stage& stage, const torch::Tensor& x,
                                const torch::Tensor& v) {
  auto& layer = require_linear_layer(stage);
  count_flops(layer_product_flops(stage, x));
  const auto weight = layer.weight_vjp(x, v);
  const auto matrix = weight.reshape({weight.size(0), -1});
  if (!layer.layer_has_bias()) return matrix;
  std::vector<int64_t> positions{0};
  for (int64_t d = 2; d < v.dim(); ++d) positions.push_back(d);
  return torch::cat({matrix, v.sum(positions).unsqueeze(1)}, 1);
}

torch::Tensor per_sample_control_vjp(control::Stage& stage, const torch::Tensor& x,
                                     const torch::Tensor& v) {
  count_flops(layer_product_flops(stage, x));
  const auto inputs = layer_inputs(stage, x);                // [B, L, fan]
  const auto grads = v.reshape({v.size(0), v.size(1), -1});  // [B, out, L]
  return grads.bmm(inputs);
}

}  // namespace octrain::methods
