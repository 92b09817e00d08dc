#pragma once

#include <torch/types.h>

#include "octrain/control/activation_kind.h"

namespace octrain::control {

// The affine layer h = W·x̃ + b through which a trainable stage's controls act, seen the way
// curvature methods (K-FAC, EKFAC, DDPNOpt) need it: patches, products with W or a replacement
// for W, and the weight gradient. Dense and Conv2d stages are linear layers; a residual stage
// exposes its inner layer. Methods use this interface and never the concrete stage types.
//
// "Patches" x̃ are the layer's inputs per output position, [B, L, fan] with fan the weight's
// inputs per output unit (dense: L = 1, fan = in; conv: im2col columns, fan = in·k·k).
class LinearLayer {
 public:
  virtual ~LinearLayer() = default;

  virtual torch::Tensor layer_weight() const = 0;  // W [out, …]
  virtual bool layer_has_bias() const = 0;
  // True when the layer is a plain matrix on flat states (dense): x̃ = x, L = 1.
  virtual bool is_matrix() const = 0;

  virtual torch::Tensor patches(const torch::Tensor& x) const = 0;
  // h = W'·x̃ + b' with the given weight W' (shaped like W) and bias b' (may be undefined).
  virtual torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias) const = 0;
  // (∂h/∂x)ᵀ v with W replaced by `weight`; x gives the input's shape.
  virtual torch::Tensor input_vjp(const torch::Tensor& weight, const torch::Tensor& x,
                                  const torch::Tensor& v) const = 0;
  // Σ over samples and positions of v x̃ᵀ, shaped like W: the weight gradient of ⟨v, h⟩.
  virtual torch::Tensor weight_vjp(const torch::Tensor& x, const torch::Tensor& v) const = 0;
};

// How a stage's output y sits around its layer's output h = layer(x):
//   y = (skip ? x : 0) + δ·σ(h).
// Dense/Conv2d: y = h (no skip, δ = 1, σ = identity); residual: x + δ·σ(h).
struct LayerForm {
  bool skip = false;
  double delta = 1.0;
  Activation activation = Activation::kIdentity;
};

}  // namespace octrain::control
