#pragma once

#include <torch/types.h>

namespace octrain::control {

// The options stages create their controls and buffers with: torch's defaults (the CPU), or the
// meta device while a ShapesOnlyScope is alive on this thread — tensors with shapes and sizes
// but no storage, so a model's memory can be estimated before it is built (plan_network in
// model_builder.h). Initialisation is skipped on the meta device.
torch::TensorOptions control_tensor_options();
bool shapes_only();

class ShapesOnlyScope {
 public:
  ShapesOnlyScope();
  ~ShapesOnlyScope();
  ShapesOnlyScope(const ShapesOnlyScope&) = delete;
  ShapesOnlyScope& operator=(const ShapesOnlyScope&) = delete;

 private:
  bool previous_;
};

}  // namespace octrain::control
