#include "octrain/control/shapes_only.h"

namespace octrain::control {
namespace {
thread_local bool g_shapes_only = false;
}

bool shapes_only() {
  return g_shapes_only;
}

torch::TensorOptions control_tensor_options() {
  return g_shapes_only ? torch::TensorOptions().device(torch::kMeta) : torch::TensorOptions();
}

ShapesOnlyScope::ShapesOnlyScope() : previous_(g_shapes_only) {
  g_shapes_only = true;
}

ShapesOnlyScope::~ShapesOnlyScope() {
  g_shapes_only = previous_;
}

}  // namespace octrain::control
