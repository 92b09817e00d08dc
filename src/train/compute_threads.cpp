#include "octrain/train/compute_threads.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <torch/types.h>

#include <thread>

namespace octrain::train {

std::string ComputeThreads::describe() const {
  return blas > 0 ? fmt::format("OpenBLAS {} thread(s), libtorch intra-op {}", blas, intra_op)
                  : fmt::format("libtorch intra-op {} thread(s)", intra_op);
}

ComputeThreads set_compute_threads(int threads) {
  const int n = threads > 0 ? threads : std::max(1, int(std::thread::hardware_concurrency()));
  using SetThreads = void (*)(int);
  auto openblas_set_num_threads =
      reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  ComputeThreads result;
  if (openblas_set_num_threads) {
    openblas_set_num_threads(n);
    result.blas = n;
    result.intra_op = 1;
  } else {
    result.intra_op = n;
  }
  torch::set_num_threads(result.intra_op);
  return result;
}

}  // namespace octrain::train
