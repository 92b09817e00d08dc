#include "octrain/perf/forward_flops.h"

#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/control/network.h"
#include "octrain/control/residual.h"

namespace octrain::perf {
namespace {

double stage_flops(control::Stage& stage, const control::Shape& input) {
  if (auto* dense = dynamic_cast<control::DenseStage*>(&stage))
    return 2.0 * double(dense->in_features()) * double(dense->out_features());
  if (auto* conv = dynamic_cast<control::Conv2dStage*>(&stage)) {
    const auto output = conv->output_shape(input);  // [C_out, H_out, W_out]
    return 2.0 * double(conv->in_channels()) * double(conv->kernel() * conv->kernel()) *
           double(output[0]) * double(output[1]) * double(output[2]);
  }
  if (auto* residual = dynamic_cast<control::ResidualStage*>(&stage))
    return stage_flops(residual->inner(), input);
  return 0.0;
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
