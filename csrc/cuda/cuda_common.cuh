// cuda_common.cuh — what every CUDA file of the backend shares: checked calls, the stream, the sticky
// device-side status word, and element loads that widen BF16 exactly.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stdint.h>

#include "core/numerics.h"
#include "core/ops.h"
#include "core/status.h"

namespace quartet {
namespace cuda {

// The library's stream on the current device (created on first use).
cudaStream_t current_stream();

// Device-side status word (0 = fine). Kernels that detect bad data (a non-finite abs-max) store a
// quartet_status into it with atomicCAS; quartet_sync and every copy to the host read it, report the
// error through fail() and clear it. This is how an asynchronous data error reaches the caller.
int32_t* device_status();
// Checks the last launch and returns QUARTET_OK or a QUARTET_ERR_CUDA naming `fn`.
int32_t check_launch(const char* fn);

}  // namespace cuda
}  // namespace quartet

#define QUARTET_CUDA_TRY(fn, call)                                                                  \
  do {                                                                                              \
    cudaError_t quartet_err_ = (call);                                                              \
    if (quartet_err_ != cudaSuccess)                                                                \
      return ::quartet::fail(QUARTET_ERR_CUDA, fn, "%s failed: %s (%s)", #call,                     \
                             cudaGetErrorName(quartet_err_), cudaGetErrorString(quartet_err_));     \
  } while (0)

// Report a data error from a kernel (first one wins).
__device__ __forceinline__ void quartet_report(int32_t* status, int32_t code) { atomicCAS(status, 0, code); }

__device__ __forceinline__ float quartet_load(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float quartet_load(const __nv_bfloat16* p, int64_t i) {
  return quartet::bf16_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
}
