// logical_matrix.h — build the logical row-major FP32 matrix [R, K] that a quantizer works on, from any
// row reader (row_readers.h): the storage itself (transpose = 0) or its transpose (transpose = 1).
// Blocks, Hadamard groups and Philox indices all refer to this logical matrix (numerics.md §2).
#pragma once
#include <stdint.h>

#include "core/parallel.h"
#include "cpu/cpu_common.h"

namespace quartet {
namespace cpu {

// Storage is [rows, cols]; y receives [rows, cols] (transpose = false) or [cols, rows] (transpose = true).
// The transposed copy goes through 32x32 tiles so that both reads and writes stay cache-friendly; each
// parallel task owns 32 whole logical rows. Readers of quantized data need column runs of whole blocks:
// every run is 32 columns except a final run of cols % 32 (16 for NVFP4, 0 for MXFP4).
template <class Reader>
void materialize_logical(const Reader& read, int64_t rows, int64_t cols, bool transpose, float* y) {
  if (!transpose) {
    parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) read(r, 0, cols, y + r * cols);
    });
    return;
  }
  constexpr int64_t T = 32;
  const int64_t K = rows;  // logical row length
  const int64_t col_tiles = (cols + T - 1) / T;
  parallel_for(col_tiles, row_grain(T * K), [&](int64_t t0, int64_t t1) {
    float tile[T][T];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t j0 = t * T, tw = cols - j0 < T ? cols - j0 : T;
      for (int64_t i0 = 0; i0 < rows; i0 += T) {
        const int64_t th = rows - i0 < T ? rows - i0 : T;
        for (int64_t ii = 0; ii < th; ++ii) read(i0 + ii, j0, tw, tile[ii]);
        for (int64_t jj = 0; jj < tw; ++jj) {
          float* dst = y + (j0 + jj) * K + i0;
          for (int64_t ii = 0; ii < th; ++ii) dst[ii] = tile[ii][jj];
        }
      }
    }
  });
}

}  // namespace cpu
}  // namespace quartet
