#pragma once

// The stage-appending builder both model grammars share (the compact spec in model_builder.cpp
// and the [[stage]] tables of model_file.cpp): one place that knows how each stage kind is made
// and which shape it needs. Private to the control layer.

#include <fmt/format.h>

#include <memory>

#include "octrain/control/activation.h"
#include "octrain/control/batch_norm.h"
#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/control/discrete_controls.h"
#include "octrain/control/feature_map.h"
#include "octrain/control/initialiser.h"
#include "octrain/control/network.h"
#include "octrain/control/pool.h"
#include "octrain/control/residual.h"
#include "octrain/control/shapes_only.h"
#include "octrain/util/error.h"

namespace octrain::control {

struct SpecOptions {
  Activation activation = Activation::kTanh;
  double delta = 0.5;
  bool bias = true;
  bool batch_norm = false;
  bool fixed_io = false;  // resmlp: parameter-free lift (tile) and read-out (group sum)
  ControlSet weights = ControlSet::kReal;  // Binary/Ternary: no bias, batch norm after each layer
  Initialiser init;
};

// docs/methods/discrete-msa.md: ε = 1e-4 and running averages with TF momentum 0.9 (libtorch's
// 0.1).
constexpr double kDiscreteBatchNormEps = 1e-4;

inline int64_t flat_size(const Shape& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// Appends stages while tracking the current shape.
class Builder {
 public:
  Builder(const Shape& input, const SpecOptions& options)
      : network_(std::make_shared<Network>(input)), options_(options) {}

  const Shape& shape() const { return network_->output_shape(); }
  void add(std::shared_ptr<Stage> stage) { network_->append(std::move(stage)); }

  void flatten_if_needed() {
    if (shape().size() != 1) add(std::make_shared<FlattenStage>());
  }
  void dense(int64_t out, bool hidden) {
    flatten_if_needed();
    add(std::make_shared<DenseStage>(shape()[0], out, with_bias(), options_.weights));
    if (hidden)
      after_hidden(out);
    else if (discrete())
      add(std::make_shared<BatchNormStage>(out, kDiscreteBatchNormEps));  // the output BN of §3
  }
  void conv(int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
    require_image("conv");
    add(std::make_shared<Conv2dStage>(shape()[0], out, kernel, stride, padding, with_bias(),
                                      options_.weights));
    after_hidden(out);
  }
  void residual_dense() {
    require_real("residual");
    flatten_if_needed();
    const int64_t n = shape()[0];
    add(std::make_shared<ResidualStage>(std::make_shared<DenseStage>(n, n, options_.bias),
                                        options_.activation, options_.delta));
  }
  void residual_conv(int64_t channels, int64_t kernel) {
    require_real("res");
    require_image("res");
    if (shape()[0] != channels)
      throw UsageError(
          fmt::format("res{}x{}: a residual conv stage keeps the channel count, input has {}",
                      channels, kernel, shape()[0]));
    add(std::make_shared<ResidualStage>(
        std::make_shared<Conv2dStage>(channels, channels, kernel, 1, kernel / 2, options_.bias),
        options_.activation, options_.delta));
  }
  // The explicit stages of a model file: no implicit batch norm or activation after them.
  void file_dense(int64_t out, bool bias, ControlSet set) {
    if (shape().size() != 1) throw UsageError("dense needs a flat input; add a flatten stage");
    add(std::make_shared<DenseStage>(shape()[0], out, bias, set));
  }
  void file_conv(int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool bias,
                 ControlSet set) {
    if (shape().size() != 3) throw UsageError("conv2d needs an image input [C×H×W]");
    add(std::make_shared<Conv2dStage>(shape()[0], out, kernel, stride,
                                      padding < 0 ? kernel / 2 : padding, bias, set));
  }
  void file_residual(bool conv, int64_t kernel, Activation activation, double delta, bool bias) {
    std::shared_ptr<Stage> inner;
    if (!conv) {
      if (shape().size() != 1) throw UsageError("residual dense needs a flat input");
      inner = std::make_shared<DenseStage>(shape()[0], shape()[0], bias);
    } else {
      if (shape().size() != 3) throw UsageError("residual conv2d needs an image input");
      inner = std::make_shared<Conv2dStage>(shape()[0], shape()[0], kernel, 1, kernel / 2, bias);
    }
    add(std::make_shared<ResidualStage>(inner, activation, delta));
  }
  std::shared_ptr<Network> finish() {
    if (!shapes_only()) initialise(*network_, options_.init);
    return network_;
  }

 private:
  bool discrete() const { return options_.weights != ControlSet::kReal; }
  bool with_bias() const { return options_.bias && !discrete(); }
  void after_hidden(int64_t features) {
    if (discrete())
      add(std::make_shared<BatchNormStage>(features, kDiscreteBatchNormEps));
    else if (options_.batch_norm)
      add(std::make_shared<BatchNormStage>(features));
    add(std::make_shared<ActivationStage>(options_.activation));
  }
  void require_real(const char* what) {
    if (discrete())
      throw UsageError(fmt::format("{}: residual stages have real weights only, not {}", what,
                                   to_string(options_.weights)));
  }
  void require_image(const char* what) {
    if (shape().size() != 3)
      throw UsageError(fmt::format("{}: needs an image input [C×H×W], the current shape is {}",
                                   what, to_string(shape())));
  }

  std::shared_ptr<Network> network_;
  SpecOptions options_;
};

// A model file: [init] and a list of [[stage]] tables (model_file.cpp).
std::shared_ptr<Network> build_from_toml(const std::string& path, const Shape& input);

}  // namespace octrain::control
