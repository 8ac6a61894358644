// checks.h — the argument checks every C entry point shares (contract §2: name the function, the argument
// and the expected value). One definition, used by api.cpp, model_api.cpp, optim_api.cpp and linear.cpp.
#pragma once
#include <stdint.h>

#include "core/ops.h"
#include "core/status.h"

namespace quartet {

// The backend exists and can run here (CUDA: compiled in and a device present).
inline int32_t check_backend(const char* fn, int32_t backend) {
  if (backend == QUARTET_BACKEND_CPU) return QUARTET_OK;
  if (backend != QUARTET_BACKEND_CUDA)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "backend must be 0 (cpu) or 1 (cuda), got %d", backend);
  if (!cuda::compiled())
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "backend cuda: this build of libquartet has no CUDA backend");
  int32_t n = 0;
  QUARTET_TRY(cuda::device_count(&n));
  if (n == 0) return fail(QUARTET_ERR_UNSUPPORTED, fn, "backend cuda: no CUDA device is available");
  return QUARTET_OK;
}

inline int32_t check_ptr(const char* fn, const void* p, const char* name) {
  return p ? QUARTET_OK : fail(QUARTET_ERR_NULL_POINTER, fn, "%s must not be NULL", name);
}

inline int32_t check_dtype(const char* fn, int32_t dt, const char* name) {
  if (dt == QUARTET_DTYPE_F32 || dt == QUARTET_DTYPE_BF16) return QUARTET_OK;
  return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "%s must be 0 (f32) or 1 (bf16), got %d", name, dt);
}

inline int32_t check_positive(const char* fn, int64_t v, const char* name) {
  return v > 0 ? QUARTET_OK : fail(QUARTET_ERR_SHAPE, fn, "%s must be > 0, got %lld", name, (long long)v);
}

inline int32_t check_multiple(const char* fn, int64_t v, int64_t q, const char* name) {
  return v % q == 0 ? QUARTET_OK
                    : fail(QUARTET_ERR_SHAPE, fn, "%s must be a multiple of %lld, got %lld", name, (long long)q,
                           (long long)v);
}

}  // namespace quartet
