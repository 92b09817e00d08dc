#include "octrain/methods/value_model.h"

#include <fmt/format.h>
#include <torch/autograd.h>

#include "octrain/control/activation.h"
#include "octrain/control/pool.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/layer_maps.h"
#include "octrain/methods/stage_curvature.h"
#include "octrain/util/error.h"

namespace octrain::methods {
namespace {

// Per-sample Q_ux of a FULL dense stage has B·in·out·fan entries; beyond this the factored
// form is the only sensible choice.
constexpr int64_t kMaxFullEntries = 50'000'000;
// Conv stages form per-sample control gradients [B, out, fan] from patches [B, L, fan]; chunks
// of samples bound the patches' memory.
constexpr int64_t kSampleChunk = 16;

torch::Tensor flat(const torch::Tensor& t) { return t.reshape({t.size(0), -1}); }

// v [B] broadcast against a tensor shaped like `like` [B, …].
torch::Tensor per_sample(const torch::Tensor& v, const torch::Tensor& like) {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return v.reshape(shape);
}

torch::Tensor sample_dot(const torch::Tensor& a, const torch::Tensor& b) {
  return (flat(a) * flat(b)).sum(1);
}

const control::ActivationStage* as_activation(control::Stage& stage) {
  return stage.kind() == control::StageKind::kActivation
             ? static_cast<const control::ActivationStage*>(&stage)
             : nullptr;
}

bool is_reshape(control::Stage& stage) {
  return dynamic_cast<control::FlattenStage*>(&stage) != nullptr;
}

torch::Tensor activation_slope(const control::ActivationStage& act, const torch::Tensor& x,
                               const torch::Tensor& y) {
  return control::activation_backward(act.activation(), x, y, torch::ones_like(y));
}

// ⟨g_uᵀz_s, M⁻¹ g_uᵀz_s⟩ and (when v is defined) ⟨g_uᵀz_s, M⁻¹ g_uᵀv_s⟩ per sample: closed form
// for dense stages, explicit per-sample control gradients in chunks for conv stages.
std::pair<torch::Tensor, torch::Tensor> sample_forms(control::Stage& stage, const torch::Tensor& x,
                                                     const StageCurvature& curvature,
                                                     const torch::Tensor& z,
                                                     const torch::Tensor& v) {
  if (stage.kind() == control::StageKind::kDense) {
    const auto inputs = layer_inputs(stage, x).squeeze(1);
    if (!v.defined()) return {curvature.sample_form(inputs, z, z), torch::Tensor()};
    const auto forms = curvature.sample_form(inputs, z.expand({2, -1, -1}), torch::stack({z, v}));
    return {forms[0], forms[1]};
  }
  std::vector<torch::Tensor> zz, zv;
  for (int64_t s = 0; s < x.size(0); s += kSampleChunk) {
    const int64_t n = std::min(kSampleChunk, x.size(0) - s);
    const auto xs = x.narrow(0, s, n);
    const auto gz = per_sample_control_vjp(stage, xs, z.narrow(0, s, n));
    const auto solved = curvature.solve(gz);  // M is symmetric: ⟨g_z, M⁻¹g_v⟩ = ⟨M⁻¹g_z, g_v⟩
    zz.push_back((gz * solved).sum({1, 2}));
    if (v.defined())
      zv.push_back((per_sample_control_vjp(stage, xs, v.narrow(0, s, n)) * solved).sum({1, 2}));
  }
  return {torch::cat(zz), v.defined() ? torch::cat(zv) : torch::Tensor()};
}

LayerValue full_layer_value(control::Stage& stage, const torch::Tensor& x, const ValueModel& next,
                            const StageCurvature& curvature, const torch::Tensor& running_gradient,
                            const torch::Tensor& mean_direction, const LayerValueOptions& o) {
  if (stage.kind() != control::StageKind::kDense)
    throw UsageError(fmt::format(
        "{}: value_hessian=full supports dense stages only; use value_hessian=factored",
        stage.describe()));
  const auto inputs = layer_inputs(stage, x).squeeze(1);  // x̃ [B, fan]
  const auto weight = stage.controls()[0];               // W [out, in]
  const int64_t batch = x.size(0), in = weight.size(1), out = weight.size(0),
                fan = inputs.size(1);
  if (batch * in * out * fan > kMaxFullEntries)
    throw UsageError(fmt::format(
        "{}: value_hessian=full would form {}×{}×{}×{} per-sample Q_ux entries; use "
        "value_hessian=factored",
        stage.describe(), batch, in, out, fan));
  const auto& v_h = next.gradient;   // [B, out]
  const auto& v_hh = next.hessian;   // [B, out, out]
  // Q_ux^(s)[m] = (V_hh W e_m) x̃ᵀ, plus V_h e_mᵀ in the weight block with second-order dynamics.
  auto q_ux = v_hh.matmul(weight).transpose(1, 2).unsqueeze(3) * inputs.unsqueeze(1).unsqueeze(2);
  if (o.second_order) q_ux.narrow(3, 0, in).diagonal(0, 1, 3).add_(v_h.unsqueeze(-1));
  torch::Tensor gain;  // k = −η M⁻¹ Q_u, per sample [B, out, fan] or the batch step [out, fan]
  if (o.per_sample_gain) {
    auto q_u = v_h.unsqueeze(2) * inputs.unsqueeze(1);
    if (running_gradient.defined()) q_u = q_u + running_gradient;
    gain = curvature.solve(q_u).mul(-o.lr);
  } else {
    gain = mean_direction.mul(-o.lr).expand({batch, out, fan});
  }
  LayerValue result{};
  result.value.gradient =
      (v_h.mm(weight) + torch::einsum("bmjk,bjk->bm", {q_ux, gain})).reshape(x.sizes());
  auto v_xx = weight.t().matmul(v_hh).matmul(weight) -
              o.lr * torch::einsum("bmjk,bnjk->bmn", {q_ux, curvature.solve(q_ux)});
  if (o.tikhonov > 0) v_xx.diagonal(0, 1, 2).add_(o.tikhonov);
  result.value.hessian = v_xx;
  return result;
}

LayerValue factored_layer_value(control::Stage& stage, const torch::Tensor& x,
                                const ValueModel& next, const StageCurvature& curvature,
                                const torch::Tensor& running_gradient,
                                const torch::Tensor& mean_direction, const LayerValueOptions& o) {
  const auto& v_h = next.gradient;
  const auto& z = next.factor;
  auto [zz, zv] = sample_forms(stage, x, curvature, z, o.per_sample_gain ? v_h : torch::Tensor());
  torch::Tensor k_dot;  // z_hᵀ g_u k per sample: the scalar by which Q_uxᵀ k = q_x (z_hᵀ g_u k)
  if (o.per_sample_gain) {
    if (running_gradient.defined())
      zv = zv + sample_dot(z, layer_apply(stage, x, curvature.solve(running_gradient)));
    k_dot = zv.mul(-o.lr);
  } else {
    k_dot = sample_dot(z, layer_apply(stage, x, mean_direction * -o.lr));
  }
  auto radicand = 1.0 - o.lr * zz;
  LayerValue result{};
  result.radicand_clamps = radicand.lt(0).sum().item<int64_t>();
  result.feedback_scale = (o.lr * zz).clamp_min(1.0).reciprocal();
  if (o.newton_cap) k_dot = k_dot * result.feedback_scale;
  result.value.gradient = layer_state_vjp(stage, x, v_h + z * per_sample(k_dot, z));
  if (!o.need_factor) return result;
  result.state_factor = layer_state_vjp(stage, x, z);
  result.value.factor =
      result.state_factor * per_sample(radicand.clamp_min(0).sqrt(), result.state_factor);
  if (o.tikhonov > 0) result.value.tikhonov = torch::full_like(x, o.tikhonov);
  return result;
}

}  // namespace

torch::Tensor per_sample_hessian(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                                 const torch::Tensor& y) {
  torch::AutoGradMode enable(true);
  const auto x = x_T.detach().reshape({x_T.size(0), -1}).requires_grad_(true);
  const auto total = loss.evaluate(x.view(x_T.sizes()), y, false).value * double(x.size(0));
  const auto grad = torch::autograd::grad({total}, {x}, {}, true, true)[0];
  std::vector<torch::Tensor> rows;
  for (int64_t k = 0; k < x.size(1); ++k) {
    auto row = torch::autograd::grad({grad.select(1, k).sum()}, {x}, {}, true, false, true)[0];
    rows.push_back(row.defined() ? row : torch::zeros_like(x));
  }
  return torch::stack(rows, 1).detach();
}

ValueModel terminal_value(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                          const torch::Tensor& y, ValueHessian mode, bool exact_terminal,
                          double* loss_value) {
  const auto evaluation = loss.evaluate(x_T, y, true);
  if (loss_value) *loss_value = evaluation.value.item<double>();
  ValueModel value;
  value.gradient = evaluation.costate * -double(x_T.size(0));  // p_T = −(1/B)∇φ
  if (mode == ValueHessian::kFull) {
    const auto g = flat(value.gradient);
    value.hessian = exact_terminal ? per_sample_hessian(loss, x_T, y)
                                   : g.unsqueeze(2) * g.unsqueeze(1);
  } else if (mode == ValueHessian::kFactored) {
    value.factor = value.gradient;
  }
  return value;
}

ValueModel stage_free_value(control::Stage& stage, const torch::Tensor& x, const torch::Tensor& y,
                            const ValueModel& next, bool second_order) {
  auto back = [&](const torch::Tensor& v) { return stage.vjp(x, y, v, true, nullptr).costate; };
  ValueModel value;
  value.gradient = back(next.gradient);
  const auto* act = as_activation(stage);
  if (next.factored()) {
    value.factor = back(next.factor);
    if (next.tikhonov.defined() && act)
      value.tikhonov = next.tikhonov * activation_slope(*act, x, y).square();
    else if (next.tikhonov.defined() && is_reshape(stage))
      value.tikhonov = next.tikhonov.reshape(x.sizes());
  }
  if (next.full()) {
    if (act) {
      const auto slope = flat(activation_slope(*act, x, y));
      value.hessian = slope.unsqueeze(2) * next.hessian * slope.unsqueeze(1);
      if (second_order)
        value.hessian.diagonal(0, 1, 2)
            .add_(flat(next.gradient) *
                  flat(control::activation_second_derivative(act->activation(), x, y)));
    } else if (is_reshape(stage)) {
      value.hessian = next.hessian;
    } else {
      throw UsageError(fmt::format(
          "{}: value_hessian=full passes only activation and flatten stages; use "
          "value_hessian=factored",
          stage.describe()));
    }
  }
  return value;
}

LayerValue layer_value(control::Stage& stage, const torch::Tensor& x, const ValueModel& next,
                       const StageCurvature& curvature, const torch::Tensor& running_gradient,
                       const torch::Tensor& mean_direction, const LayerValueOptions& options) {
  if (next.full())
    return full_layer_value(stage, x, next, curvature, running_gradient, mean_direction, options);
  if (next.factored())
    return factored_layer_value(stage, x, next, curvature, running_gradient, mean_direction,
                                options);
  LayerValue result{};
  result.value.gradient = layer_state_vjp(stage, x, next.gradient);
  return result;
}

torch::Tensor feedback_gradient(control::Stage& stage, const torch::Tensor& x,
                                const ValueModel& next, const torch::Tensor& delta_x,
                                bool second_order, const torch::Tensor& sample_scale,
                                const torch::Tensor& state_factor) {
  torch::Tensor r;  // V_hh a with a = g_x δx
  if (next.factored() && !next.tikhonov.defined() && state_factor.defined()) {
    r = next.factor * per_sample(sample_dot(state_factor, delta_x), next.factor);  // z·a = q_x·δx
  } else {
    const auto a = layer_state_jvp(stage, delta_x);
    if (next.full()) {
      r = next.hessian.bmm(flat(a).unsqueeze(2)).squeeze(2).view(a.sizes());
    } else {
      r = next.factor * per_sample(sample_dot(next.factor, a), a);
      if (next.tikhonov.defined()) r = r + next.tikhonov * a;
    }
  }
  if (sample_scale.defined()) r = r * per_sample(sample_scale, r);
  auto feedback = layer_control_vjp(stage, x, r);
  if (second_order) {
    auto g_ux = layer_control_vjp(stage, delta_x, next.gradient);
    if (stage.controls().size() == 2) g_ux.select(1, g_ux.size(1) - 1).zero_();
    feedback += g_ux;
  }
  return feedback;
}

}  // namespace octrain::methods
