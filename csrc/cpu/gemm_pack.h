// gemm_pack.h — the transposing copy that turns row segments into a k-major micro-kernel panel.
//
// Operands whose rows run along k (op(A) of a non-transposed A, op(B)^T of a transposed B, and every FP4
// operand after decoding) must be interleaved for the micro-kernel: value k of row r goes to
// dst[k * width + r]. Done element by element this is one scattered store per value and dominated skinny
// GEMMs; here it runs on 4 x 4 register transposes (SSE, part of baseline x86-64) where available.
#pragma once
#include <stdint.h>

namespace quartet {
namespace cpu {

// dst[kk * width + r] = rows[r][kk] for r < nrows, kk < kc (other entries of dst are not touched).
void interleave_rows(const float* const* rows, int64_t nrows, int64_t kc, int64_t width, float* dst);

// dst[kk * width + r] = 0 for first <= r < width, kk < kc (the zero padding of a partial panel).
void zero_panel_rows(int64_t first, int64_t kc, int64_t width, float* dst);

}  // namespace cpu
}  // namespace quartet
