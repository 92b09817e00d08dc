#include "octrain/util/allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace octrain {

void retain_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum: heap blocks up to 32 MiB
  mallopt(M_TRIM_THRESHOLD, 1 << 30);   // give the heap's top back only beyond 1 GiB free
  mallopt(M_TOP_PAD, 256 << 20);        // and grow it in large steps
#endif
}

}  // namespace octrain
