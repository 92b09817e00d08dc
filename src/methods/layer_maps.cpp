#include "octrain/methods/layer_maps.h"

#include "octrain/control/conv2d.h"
#include "octrain/methods/stage_curvature.h"

namespace octrain::methods {
namespace {

bool is_dense(control::Stage& stage) {
  return stage.kind() == control::StageKind::kDense;
}
bool has_bias(control::Stage& stage) {
  return stage.controls().size() == 2;
}

// g_xᵀ v with the stage's map but the given weight.
torch::Tensor state_vjp_with(control::Stage& stage, const torch::Tensor& weight,
                             const torch::Tensor& x, const torch::Tensor& v) {
  if (is_dense(stage)) return v.mm(weight);
  auto& conv = static_cast<control::Conv2dStage&>(stage);
  const int64_t s = conv.stride(), p = conv.padding();
  return std::get<0>(at::convolution_backward(v, x, weight, c10::nullopt, {s, s}, {p, p}, {1, 1},
                                              false, {0, 0}, 1, {true, false, false}));
}

}  // namespace

torch::Tensor layer_apply(control::Stage& stage, const torch::Tensor& x,
                          const torch::Tensor& matrix) {
  auto controls = from_layer_matrix(stage, matrix);
  const auto bias = controls.size() == 2 ? controls[1] : torch::Tensor();
  if (is_dense(stage)) return at::linear(x, controls[0], bias);
  auto& conv = static_cast<control::Conv2dStage&>(stage);
  return torch::conv2d(x, controls[0], bias, {conv.stride(), conv.stride()},
                       {conv.padding(), conv.padding()});
}

torch::Tensor layer_state_jvp(control::Stage& stage, const torch::Tensor& delta_x) {
  const auto weight = stage.controls()[0];
  if (is_dense(stage)) return delta_x.mm(weight.t());
  auto& conv = static_cast<control::Conv2dStage&>(stage);
  return torch::conv2d(delta_x, weight, {}, {conv.stride(), conv.stride()},
                       {conv.padding(), conv.padding()});
}

torch::Tensor layer_state_vjp(control::Stage& stage, const torch::Tensor& x,
                              const torch::Tensor& v) {
  return state_vjp_with(stage, stage.controls()[0], x, v);
}

torch::Tensor layer_state_diagonal_vjp(control::Stage& stage, const torch::Tensor& x,
                                       const torch::Tensor& e) {
  // (g_xᵀ diag(e) g_x)_mm = Σ_i e_i (∂h_i/∂x_m)², and ∂h_i/∂x_m is a weight entry.
  return state_vjp_with(stage, stage.controls()[0].square(), x, e);
}

torch::Tensor layer_control_vjp(control::Stage& stage, const torch::Tensor& x,
                                const torch::Tensor& v) {
  if (is_dense(stage)) {
    auto weight = v.t().mm(x);
    return has_bias(stage) ? torch::cat({weight, v.sum(0).unsqueeze(1)}, 1) : weight;
  }
  auto& conv = static_cast<control::Conv2dStage&>(stage);
  const int64_t s = conv.stride(), p = conv.padding();
  const auto weight = stage.controls()[0];
  auto grads = at::convolution_backward(v, x, weight, c10::nullopt, {s, s}, {p, p}, {1, 1}, false,
                                        {0, 0}, 1, {false, true, false});
  auto matrix = std::get<1>(grads).reshape({weight.size(0), -1});
  return has_bias(stage) ? torch::cat({matrix, v.sum({0, 2, 3}).unsqueeze(1)}, 1) : matrix;
}

torch::Tensor per_sample_control_vjp(control::Stage& stage, const torch::Tensor& x,
                                     const torch::Tensor& v) {
  const auto inputs = layer_inputs(stage, x);                // [B, L, fan]
  const auto grads = v.reshape({v.size(0), v.size(1), -1});  // [B, out, L]
  return grads.bmm(inputs);
}

}  // namespace octrain::methods
