// rht.cpp — the randomized Hadamard transform on the CPU (numerics.md §5.5): quartet_rht, and the
// in-place rotation step of quantize/requantize. The arithmetic is numerics.h rht_chunk<D> (FP32 FWHT in
// natural order, then the 1/sqrt(d) constant), the same code the CUDA kernels run.
#include "core/parallel.h"
#include "core/status.h"
#include "cpu/cpu_common.h"
#include "cpu/cpu_internal.h"

namespace quartet {
namespace cpu {
namespace {

template <int D>
void rotate_rows_d(float* y, int64_t rows, int64_t cols, const uint32_t* signs) {
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < cols; j += D) rht_chunk<D>(y + r * cols + j, signs);
  });
}

// quartet_rht between storage buffers: each d-chunk is loaded to FP32, rotated, and stored (BF16 with
// RNE), so out == x works in place (every chunk is read completely before it is written).
template <int D>
void rotate_storage_d(const RhtArgs& a, const uint32_t* signs) {
  parallel_for(a.rows, row_grain(a.cols), [&](int64_t r0, int64_t r1) {
    float w[D];
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < a.cols; j += D) {
        load_f32(a.x, a.x_dtype, r * a.cols + j, D, w);
        rht_chunk<D>(w, signs);
        store_f32(w, D, a.out, a.out_dtype, r * a.cols + j);
      }
  });
}

}  // namespace

void rotate_rows(float* y, int64_t rows, int64_t cols, const RhtSpec& spec) {
  const uint32_t* signs = spec.has_signs ? spec.signs : nullptr;
  switch (spec.dim) {
    case 16: rotate_rows_d<16>(y, rows, cols, signs); break;
    case 32: rotate_rows_d<32>(y, rows, cols, signs); break;
    case 128: rotate_rows_d<128>(y, rows, cols, signs); break;
    default: break;  // 0: no rotation
  }
}

int32_t rht(const RhtArgs& a) {
  const uint32_t* signs = a.rht.has_signs ? a.rht.signs : nullptr;
  switch (a.rht.dim) {
    case 16: rotate_storage_d<16>(a, signs); return QUARTET_OK;
    case 32: rotate_storage_d<32>(a, signs); return QUARTET_OK;
    case 128: rotate_storage_d<128>(a, signs); return QUARTET_OK;
    default: return fail(QUARTET_ERR_INTERNAL, "quartet_rht", "unexpected rht dim %d", a.rht.dim);
  }
}

}  // namespace cpu
}  // namespace quartet
