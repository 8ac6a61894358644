// optim_ops.h — the validated arguments of the optimizer ops (quartet_sum_squares, quartet_adamw_step) and
// their backend entry points. csrc/core/optim_api.cpp checks the C arguments and derives every scalar once on
// the host, so the CPU (csrc/cpu/adamw.cpp) and CUDA (csrc/cuda/adamw.cu) kernels see identical floats.
#pragma once
#include <stdint.h>
#include "quartet.h"

namespace quartet {

// One tensor of a sum-of-squares call: n > 0 floats in backend memory.
struct SumSquaresArgs {
  int32_t count;
  const float* const* tensors;  // host array of backend pointers
  const int64_t* sizes;         // host array
  double* sumsq;                // host array of `count` results
};

// The number of values one tree node reduces at a time. The order is defined by the pairwise tree over the
// whole zero-padded tensor; chunking by a power of two is only how both backends walk that same tree.
constexpr int64_t kSumSquaresChunk = 1024;

// One AdamW step; the scalars are the host-derived float32 values named in quartet.h.
struct AdamwArgs {
  float* w;
  const float* grad;
  float* m;
  float* v;
  int64_t n;
  float grad_scale;
  float beta1, beta2;
  float one_minus_beta1, one_minus_beta2;
  float decay;      // fl32(1 - lr * weight_decay)
  float step_size;  // fl32(lr / (1 - beta1^step))
  float root_c2;    // fl32(sqrt(1 - beta2^step))
  float eps;
};

namespace cpu {
int32_t sum_squares(const SumSquaresArgs& a);
int32_t adamw(const AdamwArgs& a);
}  // namespace cpu
namespace cuda {
int32_t sum_squares(const SumSquaresArgs& a);
int32_t adamw(const AdamwArgs& a);
}  // namespace cuda

}  // namespace quartet
