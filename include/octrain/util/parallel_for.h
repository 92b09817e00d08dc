#pragma once

#include <cstddef>
#include <functional>

namespace octrain {

// Runs task(i) for every i in [0, n) on up to `threads` threads (the caller's included), each
// index exactly once, and returns when all are done; rethrows the first exception a task threw.
// Which thread runs which index varies, so tasks must not depend on each other.
void parallel_for(size_t n, int threads, const std::function<void(size_t)>& task);

}  // namespace octrain
