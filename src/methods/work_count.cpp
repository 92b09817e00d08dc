#include "octrain/methods/work_count.h"

#include "octrain/control/network.h"

namespace octrain::methods {
namespace {

thread_local double flops_on_this_thread = 0.0;

double stage_flops(control::Network& network, size_t t, int64_t batch) {
  return network.stage(t).forward_flops(network.stage_input_shape(t)) * double(batch);
}

}  // namespace

double counted_flops() {
  return flops_on_this_thread;
}

void count_flops(double flops) {
  flops_on_this_thread += flops;
}

double layer_product_flops(const control::Stage& stage, const torch::Tensor& x) {
  const auto sizes = x.sizes();
  const control::Shape sample(sizes.begin() + 1, sizes.end());
  return stage.forward_flops(sample) * double(x.size(0));
}

double forward_pass_flops(control::Network& network, int64_t batch) {
  double total = 0;
  for (size_t t = 0; t < network.size(); ++t) total += stage_flops(network, t, batch);
  return total;
}

double sweep_flops(control::Network& network, int64_t batch, bool need_initial_costate) {
  double first = 0;
  for (size_t t = 0; t < network.size() && first == 0; ++t) first = stage_flops(network, t, batch);
  return 3 * forward_pass_flops(network, batch) - (need_initial_costate ? 0.0 : first);
}

}  // namespace octrain::methods
