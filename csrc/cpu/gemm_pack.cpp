// gemm_pack.cpp — interleave_rows (see gemm_pack.h). Pure data movement: values are copied, never changed.
#include "cpu/gemm_pack.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace quartet {
namespace cpu {

void interleave_rows(const float* const* rows, int64_t nrows, int64_t kc, int64_t width, float* dst) {
  int64_t r = 0;
#if defined(__SSE2__)
  for (; r + 4 <= nrows; r += 4) {
    const float *p0 = rows[r], *p1 = rows[r + 1], *p2 = rows[r + 2], *p3 = rows[r + 3];
    int64_t kk = 0;
    for (; kk + 4 <= kc; kk += 4) {
      __m128 v0 = _mm_loadu_ps(p0 + kk), v1 = _mm_loadu_ps(p1 + kk);
      __m128 v2 = _mm_loadu_ps(p2 + kk), v3 = _mm_loadu_ps(p3 + kk);
      _MM_TRANSPOSE4_PS(v0, v1, v2, v3);  // v_i now holds k = kk + i of the four rows
      float* d = dst + kk * width + r;
      _mm_storeu_ps(d, v0);
      _mm_storeu_ps(d + width, v1);
      _mm_storeu_ps(d + 2 * width, v2);
      _mm_storeu_ps(d + 3 * width, v3);
    }
    for (; kk < kc; ++kk) {
      float* d = dst + kk * width + r;
      d[0] = p0[kk];
      d[1] = p1[kk];
      d[2] = p2[kk];
      d[3] = p3[kk];
    }
  }
#endif
  for (; r < nrows; ++r) {
    const float* p = rows[r];
    for (int64_t kk = 0; kk < kc; ++kk) dst[kk * width + r] = p[kk];
  }
}

void zero_panel_rows(int64_t first, int64_t kc, int64_t width, float* dst) {
  if (first >= width) return;
  for (int64_t kk = 0; kk < kc; ++kk)
    for (int64_t r = first; r < width; ++r) dst[kk * width + r] = 0.0f;
}

}  // namespace cpu
}  // namespace quartet
