#include "octrain/perf/forward_flops.h"

#include "octrain/control/network.h"

namespace octrain::perf {
namespace {

double stage_flops(control::Stage& stage, const control::Shape& input) {
  return stage.forward_flops(input);
}

}  // namespace

double forward_flops(control::Network& network, int64_t batch) {
  double per_sample = 0;
  for (size_t t = 0; t < network.size(); ++t)
    per_sample += stage_flops(network.stage(t), network.stage_input_shape(t));
  return per_sample * double(batch);
}

double gradient_step_flops(control::Network& network, int64_t batch) {
  double first = 0;
  for (size_t t = 0; t < network.size() && first == 0; ++t)
    first = stage_flops(network.stage(t), network.stage_input_shape(t));
  return 3 * forward_flops(network, batch) - first * double(batch);
}

}  // namespace octrain::perf
