// gemm_mma_bf16.cu — the portable block-scaled FP4 GEMM (numerics.md §3.6) for GPUs without FP4 tensor
// cores, and the fallback for shapes the faster paths refuse: decode each operand to 16 bits inside the main
// loop and run 16-bit mma.sync with FP32 accumulation (sm_80 and later; also built for sm_100a/120a).
//
//   Y[m, n] = fl(fl(gA * gB) * alpha) * sum_k (qA * sA)[m, k] * (qB * sB)[n, k]
//
// Per 128 x 128 output tile and 32-wide k tile every thread loads one operand row's 16 code bytes and its
// block scales from global memory (into registers, one tile ahead), decodes them with gemm_tiles.cuh (NVFP4
// to FP16 times 2^-14, MXFP4 to BF16; both exact) into shared memory, and the warps run the mma.sync main
// loop of gemm_mma_core.cuh. Only codes travel from global memory: half the bytes of a BF16 GEMM.
//
// Shapes: any m, n >= 1; k % 16 (NVFP4) or k % 32 (MXFP4). Rows outside the matrix and the k tail past k
// are zero-filled (zero codes and zero scales give exact zeros). Code buffers of any alignment (the loads
// narrow to what the row starts allow); linear or 128x4-swizzled scales.
#include <stdint.h>

#include "cuda/gemm_mma_core.cuh"
#include "cuda/gemm_paths.h"
#include "cuda/gemm_tiles.cuh"

namespace quartet {
namespace cuda {
namespace {

using namespace mma_core;

struct Fp4MmaParams {
  const uint8_t *a_codes, *a_scales, *b_codes, *b_scales;
  const float *a_tensor_scale, *b_tensor_scale;  // nullable = 1
  int64_t m, n, k;
  int32_t swizzled;
  int32_t code_align;  // 16, 8, 4 or 1: the alignment every code row start shares
  float alpha;
  tiles::OutSpec out;
};

// `nbytes` (8 or 16) code bytes from p, zero-extended to 16, with the widest loads that `align` allows.
__device__ __forceinline__ uint4 load_codes(const uint8_t* p, int nbytes, int align) {
  uint4 v = make_uint4(0u, 0u, 0u, 0u);
  if (align >= 16 && nbytes == 16) {
    v = __ldg((const uint4*)p);
  } else if (align >= 8) {
    const uint2 lo = __ldg((const uint2*)p);
    v.x = lo.x;
    v.y = lo.y;
    if (nbytes == 16) {
      const uint2 hi = __ldg((const uint2*)(p + 8));
      v.z = hi.x;
      v.w = hi.y;
    }
  } else if (align >= 4) {
    v.x = __ldg((const uint32_t*)p);
    v.y = __ldg((const uint32_t*)(p + 4));
    if (nbytes == 16) {
      v.z = __ldg((const uint32_t*)(p + 8));
      v.w = __ldg((const uint32_t*)(p + 12));
    }
  } else {
    uint32_t w[4] = {0u, 0u, 0u, 0u};
    for (int i = 0; i < nbytes; ++i) w[i >> 2] |= (uint32_t)__ldg(p + i) << (8 * (i & 3));
    v = make_uint4(w[0], w[1], w[2], w[3]);
  }
  return v;
}

// One operand row of the tile: 32 k values = 16 code bytes and 32 / block scales per k tile.
template <int kFormat>
struct Fp4RowLoader {
  using Decoder = tiles::Fp4Decoder<kFormat>;
  static constexpr int kScalesPerTile = kTileK / Decoder::kBlock;  // 2 (NVFP4) or 1 (MXFP4)
  struct Regs {
    uint4 codes;
    uint32_t scales;  // byte j: scale of block j of the k tile
  };
  const uint8_t* codes;   // this row's codes (null when the row lies outside the matrix)
  const uint8_t* scales;  // the operand's scale buffer
  int64_t row, k, scale_cols;
  bool swizzled;
  int code_align;

  __device__ Fp4RowLoader(const Fp4MmaParams& p, int64_t m0, int64_t n0) {
    const int t = (int)threadIdx.x;
    const bool is_a = t < kTileM;
    row = is_a ? m0 + t : n0 + (t - kTileM);
    const int64_t rows = is_a ? p.m : p.n;
    k = p.k;
    scale_cols = p.k / Decoder::kBlock;
    swizzled = p.swizzled != 0;
    code_align = p.code_align;
    scales = is_a ? p.a_scales : p.b_scales;
    codes = row < rows ? (is_a ? p.a_codes : p.b_codes) + row * (p.k / 2) : nullptr;
  }

  __device__ __forceinline__ void load(Regs& r, int64_t kt) {
    r.codes = make_uint4(0u, 0u, 0u, 0u);
    r.scales = 0u;
    if (!codes) return;
    const int64_t k0 = kt * kTileK;
    r.codes = load_codes(codes + k0 / 2, k0 + kTileK <= k ? 16 : 8, code_align);  // k % 16 == 0
#pragma unroll
    for (int j = 0; j < kScalesPerTile; ++j) {
      const int64_t c = kt * kScalesPerTile + j;
      if (c < scale_cols) r.scales |= (uint32_t)__ldg(scales + tiles::scale_offset(swizzled, row, c, scale_cols)) << (8 * j);
    }
  }

  __device__ __forceinline__ void store(const Regs& r, uint8_t* stage) const {
    const uint32_t words[4] = {r.codes.x, r.codes.y, r.codes.z, r.codes.w};
    uint32_t sp[kScalesPerTile];
#pragma unroll
    for (int j = 0; j < kScalesPerTile; ++j) sp[j] = Decoder::scale_pair((r.scales >> (8 * j)) & 0xFFu);
    uint4 out[4];
#pragma unroll
    for (int c = 0; c < 4; ++c) {  // word c holds k 8c..8c+7 of the tile: block 8c / kBlock
      uint32_t o[4];
      Decoder::decode(words[c], sp[(8 * c) / Decoder::kBlock], o);
      out[c] = make_uint4(o[0], o[1], o[2], o[3]);
    }
    store_row(stage, out);
  }
};

template <int kFormat>
__global__ void __launch_bounds__(kThreads) fp4_mma_kernel(Fp4MmaParams p) {
  using Decoder = tiles::Fp4Decoder<kFormat>;
  __shared__ __align__(128) uint8_t smem[2 * kStageBytes];
  const int64_t m0 = (int64_t)blockIdx.x * kTileM, n0 = (int64_t)blockIdx.y * kTileN;
  Fp4RowLoader<kFormat> loader(p, m0, n0);
  Acc acc;
  mainloop<Decoder::kBf16>(loader, (p.k + kTileK - 1) / kTileK, smem, acc);

  const float mult = tiles::effective_alpha(p.a_tensor_scale, p.b_tensor_scale, p.alpha);
#pragma unroll
  for (int mt = 0; mt < kMmaM; ++mt)
#pragma unroll
    for (int nt = 0; nt < kMmaN; ++nt) {
      const int64_t row = m0 + acc_row(mt, 0), col = n0 + acc_col(nt, 0);
      tiles::store_pair(p.out, row, col, acc[mt][nt][0], acc[mt][nt][1], Decoder::kUnscale, mult);
      tiles::store_pair(p.out, row + 8, col, acc[mt][nt][2], acc[mt][nt][3], Decoder::kUnscale, mult);
    }
}

int alignment_of(uintptr_t v) {
  int a = 16;
  while (a > 1 && (v % (uintptr_t)a) != 0) a >>= 1;
  return a >= 4 ? a : 1;
}

template <int kFormat>
int32_t launch(const Fp4MmaParams& p, const char* fn) {
  auto kernel = fp4_mma_kernel<kFormat>;
  cudaFuncAttributes attr;
  const cudaError_t e = cudaFuncGetAttributes(&attr, kernel);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "no mma.sync FP4 GEMM code for this GPU in this build (archs: %s): %s",
                arch_list(), cudaGetErrorString(e));
  }
  const int64_t grid_m = (p.m + kTileM - 1) / kTileM, grid_n = (p.n + kTileN - 1) / kTileN;
  if (grid_n > 65535 || grid_m > 0x7FFFFFFF)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "n = %lld is too large for the mma.sync FP4 GEMM grid (max %d)",
                (long long)p.n, 65535 * kTileN);
  kernel<<<dim3((unsigned)grid_m, (unsigned)grid_n), kThreads, 0, current_stream()>>>(p);
  return check_launch(fn);
}

}  // namespace

int32_t gemm_fp4_mma_bf16(const Fp4GemmArgs& a) {
  const char* fn = "quartet_gemm_fp4";
  int dev = 0, major = 0;
  QUARTET_CUDA_TRY(fn, cudaGetDevice(&dev));
  QUARTET_CUDA_TRY(fn, cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  if (major < 8)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "the mma.sync FP4 GEMM needs compute capability 8.0 or newer, this GPU is %d.x",
                major);
  Fp4MmaParams p;
  p.a_codes = a.a_codes;
  p.a_scales = a.a_scales;
  p.b_codes = a.b_codes;
  p.b_scales = a.b_scales;
  p.a_tensor_scale = a.a_tensor_scale;
  p.b_tensor_scale = a.b_tensor_scale;
  p.m = a.m;
  p.n = a.n;
  p.k = a.k;
  p.swizzled = a.scale_layout == QUARTET_SCALES_SWIZZLED;
  const int row_align = alignment_of((uintptr_t)(a.k / 2));
  const int a_align = alignment_of((uintptr_t)a.a_codes), b_align = alignment_of((uintptr_t)a.b_codes);
  p.code_align = row_align < a_align ? row_align : a_align;
  if (b_align < p.code_align) p.code_align = b_align;
  p.alpha = a.alpha;
  p.out.out = a.out;
  p.out.m = a.m;
  p.out.n = a.n;
  p.out.out_bf16 = a.out_dtype == QUARTET_DTYPE_BF16;
  p.out.accumulate = a.accumulate ? 1 : 0;
  p.out.paired = (a.n % 2 == 0) && ((uintptr_t)a.out % (p.out.out_bf16 ? 4u : 8u) == 0);
  return a.format == QUARTET_FORMAT_NVFP4 ? launch<QUARTET_FORMAT_NVFP4>(p, fn) : launch<QUARTET_FORMAT_MXFP4>(p, fn);
}

}  // namespace cuda
}  // namespace quartet
