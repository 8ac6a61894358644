// gemm_builtin.cu — the dense GEMM of quartet_gemm when cuBLASLt is absent (or forced with path 6):
// row-major C[m, n] = alpha * op(A) op(B) + beta * C with FP32 accumulation (BLAS semantics, quartet.h).
//  - BF16 operands: the mma.sync main loop of gemm_mma_core.cuh (tensor cores, sm_80+), each thread copying
//    one row of op(A) or op(B)^T per 32-wide k tile into shared memory (16-byte loads when that operand is
//    contiguous along k and aligned, element loads otherwise: coalesced across the threads' rows).
//  - F32 operands: a plain tiled FP32 kernel (fused multiply-add, no TF32), any arch.
// Epilogue: y = fl(alpha * acc); with beta != 0, y = fl(y + fl(beta * C)) (C is never read when beta == 0);
// BF16 C rounds y to nearest even.
#include <stdint.h>

#include "cuda/gemm_mma_core.cuh"
#include "cuda/gemm_paths.h"
#include "cuda/gemm_tiles.cuh"

namespace quartet {
namespace cuda {
namespace {

struct DenseParams {
  const void* a;  // op(A)[i, k] = trans_a ? a[k * lda + i] : a[i * lda + k]
  const void* b;  // op(B)^T[j, k] = op(B)[k, j] = trans_b ? b[j * ldb + k] : b[k * ldb + j]
  int64_t lda, ldb;
  int32_t trans_a, trans_b;
  int32_t vec_a, vec_b;  // 16-byte loads along k are possible for this operand
  int64_t m, n, k;
  float alpha, beta;
  void* c;
  int64_t ldc;
  int32_t c_bf16;
};

__device__ __forceinline__ void store_dense(const DenseParams& p, int64_t i, int64_t j, float acc) {
  if (i >= p.m || j >= p.n) return;
  float y = __fmul_rn(p.alpha, acc);
  const int64_t idx = i * p.ldc + j;
  if (p.c_bf16) {
    uint16_t* c = (uint16_t*)p.c + idx;
    if (p.beta != 0.0f) y = __fadd_rn(y, __fmul_rn(p.beta, bf16_to_f32(*c)));
    *c = f32_to_bf16(y);
  } else {
    float* c = (float*)p.c + idx;
    if (p.beta != 0.0f) y = __fadd_rn(y, __fmul_rn(p.beta, *c));
    *c = y;
  }
}

// ---- BF16: tensor cores ---------------------------------------------------------------------------------

struct Bf16RowLoader {
  struct Regs {
    uint4 v[4];  // 32 BF16 values along k
  };
  const uint16_t* base;
  int64_t row, ld, k;
  bool valid, contiguous, vec;

  __device__ Bf16RowLoader(const DenseParams& p, int64_t m0, int64_t n0) {
    const int t = (int)threadIdx.x;
    const bool is_a = t < mma_core::kTileM;
    row = is_a ? m0 + t : n0 + (t - mma_core::kTileM);
    valid = row < (is_a ? p.m : p.n);
    base = (const uint16_t*)(is_a ? p.a : p.b);
    ld = is_a ? p.lda : p.ldb;
    contiguous = is_a ? !p.trans_a : p.trans_b;
    vec = contiguous && (is_a ? p.vec_a : p.vec_b);
    k = p.k;
  }
  __device__ __forceinline__ uint32_t elem(int64_t kk) const {
    if (kk >= k) return 0u;
    return __ldg(contiguous ? base + row * ld + kk : base + kk * ld + row);
  }
  __device__ __forceinline__ void load(Regs& r, int64_t kt) const {
    const int64_t k0 = kt * mma_core::kTileK;
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      r.v[c] = make_uint4(0u, 0u, 0u, 0u);
      if (!valid) continue;
      const int64_t kc = k0 + 8 * c;
      if (vec && kc + 8 <= k) {
        r.v[c] = __ldg((const uint4*)(base + row * ld + kc));
      } else {
        uint32_t w[4];
#pragma unroll
        for (int e = 0; e < 4; ++e) w[e] = elem(kc + 2 * e) | (elem(kc + 2 * e + 1) << 16);
        r.v[c] = make_uint4(w[0], w[1], w[2], w[3]);
      }
    }
  }
  __device__ __forceinline__ void store(const Regs& r, uint8_t* stage) const { mma_core::store_row(stage, r.v); }
};

__global__ void __launch_bounds__(mma_core::kThreads) dense_bf16_kernel(DenseParams p) {
  using namespace mma_core;
  __shared__ __align__(128) uint8_t smem[2 * kStageBytes];
  const int64_t m0 = (int64_t)blockIdx.x * kTileM, n0 = (int64_t)blockIdx.y * kTileN;
  Bf16RowLoader loader(p, m0, n0);
  Acc acc;
  mainloop<true>(loader, (p.k + kTileK - 1) / kTileK, smem, acc);
#pragma unroll
  for (int mt = 0; mt < kMmaM; ++mt)
#pragma unroll
    for (int nt = 0; nt < kMmaN; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) store_dense(p, m0 + acc_row(mt, e), n0 + acc_col(nt, e), acc[mt][nt][e]);
}

// ---- F32: plain tiles ---------------------------------------------------------------------------------------

constexpr int kF32Tile = 64, kF32K = 16, kF32Threads = 256;

__global__ void __launch_bounds__(kF32Threads) dense_f32_kernel(DenseParams p) {
  __shared__ float as[kF32K][kF32Tile + 4], bs[kF32K][kF32Tile + 4];  // k-major: as[k][i], bs[k][j]
  const float* a = (const float*)p.a;
  const float* b = (const float*)p.b;
  const int t = (int)threadIdx.x, ti = t / 16, tj = t % 16;  // 16 x 16 threads, 4 x 4 outputs each
  const int64_t m0 = (int64_t)blockIdx.x * kF32Tile, n0 = (int64_t)blockIdx.y * kF32Tile;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < p.k; k0 += kF32K) {
#pragma unroll
    for (int it = 0; it < kF32K * kF32Tile / kF32Threads; ++it) {
      const int e = t + it * kF32Threads;
      // consecutive threads walk the operand's contiguous dimension (coalesced either way)
      const int r = p.trans_a ? e % kF32Tile : e / kF32K, kk = p.trans_a ? e / kF32Tile : e % kF32K;
      const int64_t gi = m0 + r, gk = k0 + kk;
      as[kk][r] = (gi < p.m && gk < p.k) ? (p.trans_a ? a[gk * p.lda + gi] : a[gi * p.lda + gk]) : 0.0f;
      const int c = p.trans_b ? e / kF32K : e % kF32Tile, kb = p.trans_b ? e % kF32K : e / kF32Tile;
      const int64_t gj = n0 + c, gkb = k0 + kb;
      bs[kb][c] = (gj < p.n && gkb < p.k) ? (p.trans_b ? b[gj * p.ldb + gkb] : b[gkb * p.ldb + gj]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kF32K; ++kk) {
      float av[4], bv[4];
#pragma unroll
      for (int x = 0; x < 4; ++x) {
        av[x] = as[kk][ti + 16 * x];
        bv[x] = bs[kk][tj + 16 * x];
      }
#pragma unroll
      for (int x = 0; x < 4; ++x)
#pragma unroll
        for (int y = 0; y < 4; ++y) acc[x][y] = fmaf(av[x], bv[y], acc[x][y]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int x = 0; x < 4; ++x)
#pragma unroll
    for (int y = 0; y < 4; ++y) store_dense(p, m0 + ti + 16 * x, n0 + tj + 16 * y, acc[x][y]);
}

}  // namespace

int32_t gemm_builtin(const GemmArgs& g) {
  const char* fn = "quartet_gemm";
  if ((g.ab_dtype != QUARTET_DTYPE_F32 && g.ab_dtype != QUARTET_DTYPE_BF16) ||
      (g.c_dtype != QUARTET_DTYPE_F32 && g.c_dtype != QUARTET_DTYPE_BF16))
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "the built-in GEMM takes f32 or bf16 operands");
  DenseParams p;
  p.a = g.a;
  p.b = g.b;
  p.lda = g.lda;
  p.ldb = g.ldb;
  p.trans_a = g.trans_a;
  p.trans_b = g.trans_b;
  p.vec_a = g.lda % 8 == 0 && (uintptr_t)g.a % 16 == 0;
  p.vec_b = g.ldb % 8 == 0 && (uintptr_t)g.b % 16 == 0;
  p.m = g.m;
  p.n = g.n;
  p.k = g.k;
  p.alpha = g.alpha;
  p.beta = g.beta;
  p.c = g.c;
  p.ldc = g.ldc;
  p.c_bf16 = g.c_dtype == QUARTET_DTYPE_BF16;
  const bool bf16 = g.ab_dtype == QUARTET_DTYPE_BF16;
  const int64_t tile_m = bf16 ? mma_core::kTileM : kF32Tile, tile_n = bf16 ? mma_core::kTileN : kF32Tile;
  const int64_t grid_m = (g.m + tile_m - 1) / tile_m, grid_n = (g.n + tile_n - 1) / tile_n;
  if (grid_n > 65535 || grid_m > 0x7FFFFFFF)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "n = %lld is too large for the built-in GEMM grid (max %lld)", (long long)g.n,
                (long long)(65535 * tile_n));
  const dim3 grid((unsigned)grid_m, (unsigned)grid_n);
  if (bf16) {
    int dev = 0, major = 0;
    QUARTET_CUDA_TRY(fn, cudaGetDevice(&dev));
    QUARTET_CUDA_TRY(fn, cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    if (major < 8)
      return fail(QUARTET_ERR_UNSUPPORTED, fn, "the built-in BF16 GEMM needs compute capability 8.0 or newer");
    dense_bf16_kernel<<<grid, mma_core::kThreads, 0, current_stream()>>>(p);
  } else {
    dense_f32_kernel<<<grid, kF32Threads, 0, current_stream()>>>(p);
  }
  return check_launch(fn);
}

}  // namespace cuda
}  // namespace quartet
