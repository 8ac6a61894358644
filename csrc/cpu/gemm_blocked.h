// gemm_blocked.h — the cache-blocked, multithreaded FP32 GEMM driver shared by cpu::gemm and cpu::gemm_fp4.
//
// Both GEMMs are acc[m, n] = sum_k opA[m, k] * opB[k, n] followed by an element-wise epilogue; they differ
// only in how operand values are produced (strided F32/BF16 loads, or FP4 decoding) and in the epilogue.
// The driver therefore sees each operand as a PanelSource — a logical [rows, k] matrix (rows = m for A,
// rows = n for B) that can write any rows x k-range block of itself as FP32, interleaved for the
// micro-kernel — and the output as a TileEpilogue that receives finished FP32 accumulator tiles.
//
// Blocking (BLIS-style): for each panel of NC output columns, op(B)[:, panel] is packed once for the whole
// k range into a buffer shared by all threads; then output tiles (MC rows x up to NC columns) are spread
// over the threads with parallel_for. Each tile owns a private FP32 accumulator that is carried across
// the KC-long k blocks; for each k block the tile packs its rows of op(A) (MC x KC, stays in L2) and
// sweeps NR-column micro-panels of B (KC x NR, stays in L1) against MR-row micro-panels of A. Every
// output element is written by exactly one tile, and its sum runs k = 0..K-1 in order in one accumulator,
// so the result does not depend on the thread count or on the tile sizes (see gemm_kernels.h).
#pragma once
#include <stdint.h>

namespace quartet {
namespace cpu {

struct PanelSource {
  // Write rows [r0, r0 + nrows) x k in [k0, k0 + kc) as FP32 into dst[kk * width + r] (kk < kc, r < width);
  // rows nrows..width-1 must be written as 0. Called concurrently from several threads.
  virtual void pack(int64_t r0, int64_t nrows, int64_t k0, int64_t kc, int64_t width, float* dst) const = 0;
  // What the driver guarantees to pack: k0 is a multiple of kBlockAlign (FP4 sources need whole scale
  // blocks), kc <= kMaxK, and kc is a multiple of kBlockAlign unless k0 + kc is the end of k.
  static constexpr int64_t kBlockAlign = 32;
  static constexpr int64_t kMaxK = 256;

 protected:
  ~PanelSource() = default;
};

struct TileEpilogue {
  // Finish output rows [i0, i0 + mi) x columns [j0, j0 + nj) from acc[(i - i0) * ldacc + (j - j0)]
  // (the complete FP32 sum over k). Called concurrently for disjoint tiles.
  virtual void store(int64_t i0, int64_t j0, int64_t mi, int64_t nj, const float* acc, int64_t ldacc) const = 0;

 protected:
  ~TileEpilogue() = default;
};

// Runs the GEMM; returns false when scratch memory could not be allocated (the output is then unspecified).
bool blocked_gemm(int64_t m, int64_t n, int64_t k, const PanelSource& a, const PanelSource& b,
                  const TileEpilogue& out);

}  // namespace cpu
}  // namespace quartet
