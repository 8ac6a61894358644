// parallel.h — the CPU backend's one way to use several cores: a persistent pool and parallel_for.
#pragma once
#include <stdint.h>
#include <functional>

namespace quartet {

int32_t cpu_threads();             // current worker count (>= 1)
void set_cpu_threads(int32_t n);   // 0 = hardware concurrency

// Runs fn(begin, end) over [0, n) in chunks of at least `grain`, on the pool; blocks until done.
// Work assignment never affects results: every kernel writes disjoint outputs and reduces in a
// fixed order, so the bytes do not depend on the thread count.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace quartet
