#pragma once

#include <string>

namespace octrain::train {

// How many threads the numerical kernels use, and who runs them.
struct ComputeThreads {
  int blas = 0;      // threads of a multithreaded BLAS (0: the BLAS is not OpenBLAS)
  int intra_op = 0;  // libtorch's intra-op pool
  std::string describe() const;
};

// Uses `threads` cores (0: all). Debian's libtorch calls the system BLAS; when that is OpenBLAS,
// its own threads run the GEMMs and libtorch's OpenMP pool is kept to one thread, because the
// two pools spinning against each other made steps 3× slower than either alone. The same
// `threads` value always gives the same kernels and hence the same numbers.
ComputeThreads set_compute_threads(int threads);

}  // namespace octrain::train
