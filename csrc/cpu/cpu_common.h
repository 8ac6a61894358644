// cpu_common.h — what every CPU quantizer op shares: scratch allocation that reports instead of throwing,
// the row grain for parallel_for, FP32/BF16 element access, and where a scale byte goes (linear or the
// 128x4 swizzled layout of numerics.md §3.5).
#pragma once
#include <stdint.h>
#include <string.h>

#include <memory>
#include <new>

#include "core/numerics.h"
#include "core/ops.h"

namespace quartet {
namespace cpu {

// Scratch arrays: nothrow so that an allocation failure becomes QUARTET_ERR_OUT_OF_MEMORY (no exception
// may cross the C boundary). Contents are uninitialized.
template <class T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new (std::nothrow) T[(size_t)(n > 0 ? n : 1)]);
}

// The FP32 working copy of quantize / requantize (the logical [R, K] matrix): one grow-only buffer per
// calling thread, so a training loop that quantizes the same shapes every step allocates nothing after its
// first step. Valid until the next call on the same thread; NULL when the allocation fails.
inline float* working_copy(int64_t n) {
  static thread_local std::unique_ptr<float[]> buffer;
  static thread_local int64_t capacity = 0;
  if (n > capacity) {
    buffer.reset();
    buffer.reset(new (std::nothrow) float[(size_t)n]);
    capacity = buffer ? n : 0;
  }
  return buffer.get();
}

// Rows per parallel_for chunk so that one chunk holds at least ~32K elements of work: small rows are
// batched, large rows go one at a time. Work assignment never changes results (outputs are disjoint).
inline int64_t row_grain(int64_t elems_per_row) {
  const int64_t target = int64_t(1) << 15;
  return elems_per_row >= target ? 1 : (target + elems_per_row - 1) / elems_per_row;
}

// Widen n elements of F32 or BF16 storage (starting at element `first`) to FP32 (exact).
inline void load_f32(const void* x, int32_t dtype, int64_t first, int64_t n, float* dst) {
  if (dtype == QUARTET_DTYPE_F32) {
    memcpy(dst, (const float*)x + first, (size_t)n * sizeof(float));
  } else {
    const uint16_t* h = (const uint16_t*)x + first;
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
  }
}

// Store n FP32 values into F32 or BF16 storage (BF16 rounds to nearest even, §1.4).
inline void store_f32(const float* src, int64_t n, void* out, int32_t dtype, int64_t first) {
  if (dtype == QUARTET_DTYPE_F32) {
    memmove((float*)out + first, src, (size_t)n * sizeof(float));
  } else {
    uint16_t* h = (uint16_t*)out + first;
    for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(src[i]);
  }
}

// Where scale [r, c] of an [rows, scale_cols] scale matrix lives in its buffer.
struct ScalePlacement {
  int64_t scale_cols;
  bool swizzled;
  int64_t offset(int64_t r, int64_t c) const {
    return swizzled ? swizzle_offset(r, c, scale_cols) : r * scale_cols + c;
  }
  // Total bytes of the buffer; the swizzled layout pads rows to 128 and columns to 4.
  int64_t bytes(int64_t rows) const { return swizzled ? swizzled_bytes(rows, scale_cols) : rows * scale_cols; }
};

inline ScalePlacement scale_placement(int64_t scale_cols, int32_t layout) {
  return ScalePlacement{scale_cols, layout == QUARTET_SCALES_SWIZZLED};
}

}  // namespace cpu
}  // namespace quartet
