#include "octrain/perf/forward_flops.h"

#include "octrain/methods/work_count.h"

namespace octrain::perf {

double forward_flops(control::Network& network, int64_t batch) {
  return methods::forward_pass_flops(network, batch);
}

double gradient_step_flops(control::Network& network, int64_t batch) {
  return methods::sweep_flops(network, batch, /*need_initial_costate=*/false);
}

}  // namespace octrain::perf
