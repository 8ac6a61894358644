// row_readers.h — "give me columns [j0, j0+n) of storage row i as FP32", for every kind of input a CPU op
// reads: F32/BF16 tensors and NVFP4/MXFP4 quantized tensors (decoded per numerics.md §3.1 / §4).
//
// Quantize and requantize share one driver (logical_matrix.h) that only sees a reader, so a re-quantized
// tensor is built from exactly the FP32 values dequantize would return: requantize == quantize(dequantize)
// bit for bit by construction.
#pragma once
#include <stdint.h>

#include "cpu/cpu_common.h"

namespace quartet {
namespace cpu {

// F32 or BF16 storage [rows, cols].
struct DenseRowReader {
  const void* x;
  int32_t dtype;
  int64_t cols;
  void operator()(int64_t i, int64_t j0, int64_t n, float* dst) const { load_f32(x, dtype, i * cols + j0, n, dst); }
};

// NVFP4 decode value: fl(fl(val(code) * val(scale)) * g); the inner product is exact (§3.1).
static inline float nvfp4_decode(uint32_t code, float scale_value, float g) {
  return (e2m1_value(code) * scale_value) * g;
}

// NVFP4 codes [rows, cols/2] + E4M3 scales (linear or swizzled) + tensor scale g. j0 and n are multiples
// of 16 (whole blocks).
struct Nvfp4RowReader {
  const uint8_t* codes;
  const uint8_t* scales;
  float g;
  int64_t cols;
  ScalePlacement place;
  void operator()(int64_t i, int64_t j0, int64_t n, float* dst) const {
    const uint8_t* c = codes + i * (cols / 2) + j0 / 2;
    for (int64_t b = 0; b < n / 16; ++b) {
      float s = e4m3_value(scales[place.offset(i, j0 / 16 + b)]);
      for (int t = 0; t < 8; ++t) {
        uint32_t byte = c[b * 8 + t];
        dst[b * 16 + 2 * t] = nvfp4_decode(byte & 15u, s, g);
        dst[b * 16 + 2 * t + 1] = nvfp4_decode(byte >> 4, s, g);
      }
    }
  }
};

// MXFP4 codes [rows, cols/2] + E8M0 scales: val(code) * 2^(e - 127), exact. j0 and n are multiples of 32.
struct Mxfp4RowReader {
  const uint8_t* codes;
  const uint8_t* scales;
  int64_t cols;
  ScalePlacement place;
  void operator()(int64_t i, int64_t j0, int64_t n, float* dst) const {
    const uint8_t* c = codes + i * (cols / 2) + j0 / 2;
    for (int64_t b = 0; b < n / 32; ++b) {
      float s = e8m0_value(scales[place.offset(i, j0 / 32 + b)]);
      for (int t = 0; t < 16; ++t) {
        uint32_t byte = c[b * 16 + t];
        dst[b * 32 + 2 * t] = e2m1_value(byte & 15u) * s;
        dst[b * 32 + 2 * t + 1] = e2m1_value(byte >> 4) * s;
      }
    }
  }
};

}  // namespace cpu
}  // namespace quartet
