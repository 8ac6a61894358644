// gemm_sm120.cu — block-scaled FP4 GEMM on the sm_120a tensor cores (RTX 50xx), and the same data path
// with a software stand-in for the MMA instruction so that it can be tested on any arch (numerics.md §3.6).
//
// Y[m, n] = fl(fl(gA * gB) * alpha) * sum_k deq(A)[m, k] * deq(B)[n, k], both operands K-major ("TN").
//
// The instruction (PTX ISA, "Block Scaling for mma.sync"; assembled by ptxas only for sm_120a):
//   NVFP4: mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::4X.f32.e2m1.e2m1.f32.ue4m3
//   MXFP4: mma.sync.aligned.m16n8k64.row.col.kind::mxf4.block_scale.scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0
// Fragment layout of one m16n8k64 MMA, lane = 4*g + p (g = lane / 4, p = lane % 4); a .b32 register holds
// 8 consecutive E2M1 codes along k, element 0 in the low nibble (the same order as our packed codes):
//   A (16 x 64): a0 = row g, k 8p..8p+7    a1 = row g+8, k 8p..8p+7
//                a2 = row g, k 32+8p..     a3 = row g+8, k 32+8p..
//   B (64 x 8):  b0 = col g, k 8p..8p+7    b1 = col g, k 32+8p..
//   C/D (16x8):  d0 = (g, 2p)  d1 = (g, 2p+1)  d2 = (g+8, 2p)  d3 = (g+8, 2p+1)
// Scale factors (selectors {byte-id, thread-id}; ptxas allows thread-id 0..1, byte-id 0 for 4X, 0 or 2 for 2X):
//   SF_A of row m comes from lane 4*(m % 8) + 2*thread-id-a + m / 8; SF_B of column n from lane 4*n + thread-id-b.
//   Byte (byte-id + j) of that lane's .b32 is the scale of k-block j of the 64-wide step (16-wide blocks for
//   4X/NVFP4: j = 0..3; 32-wide for 2X/MXFP4: j = 0..1).
// This is CUTLASS's SM120 16x8x64 block-scaled MMA traits (ALayout/BLayout/SFALayout/SFBLayout) written out,
// and it agrees with what ptxas accepts for the selectors.
//
// Data path: 128x128 output tile per block of 8 warps (each 64x32 = 4x4 MMA tiles), k tile 128 (two MMA
// steps), codes double-buffered through shared memory with cp.async (rows padded to 80 bytes so that the
// ldmatrix reads are conflict-free), scales staged through registers into shared memory as one .b32 per row
// per 64-wide step (NVFP4) or per 128-wide tile (MXFP4: byte-id 0 and 2 select the two steps). Everything up
// to the MMA call is the same code for the hardware instruction and for the stand-in (emulate = true); the
// stand-in gathers the operands of the lanes that the hardware would read (warp shuffles, per the layout
// above) and computes D = C + sum_j (sum_{k in block j} qA*qB) * sA_j * sB_j in FP32. Each block term is exact
// (E2M1 products and their 16- or 32-term sums are exact, E4M3 scale products too; E8M0 is a power of two),
// so only the accumulation rounds, as on the hardware.
//
// Shapes: any m, n; k % 32 == 0 (k % 64 == 32 runs a zero-filled half step). NVFP4 with k % 32 == 16 is
// refused with QUARTET_ERR_UNSUPPORTED (16-byte code rows would be misaligned); the dispatcher falls back.
#include <stdint.h>

#include "cuda/cuda_common.cuh"
#include "cuda/gemm_paths.h"
#include "cuda/gemm_tiles.cuh"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ == 1200 && defined(__CUDA_ARCH_FEAT_SM120_ALL)
#define QUARTET_SM120_MMA 1  // this device pass can issue the block-scaled FP4 mma.sync
#endif

namespace quartet {
namespace cuda {
namespace {

constexpr int kTileM = 128, kTileN = 128, kTileK = 128;  // block tile (k in elements)
constexpr int kThreads = 256;                             // 8 warps: 2 along m x 4 along n
constexpr int kWarpTileM = 64, kWarpTileN = 32;
constexpr int kMmaTilesM = kWarpTileM / 16, kMmaTilesN = kWarpTileN / 8;
constexpr int kCodeBytes = kTileK / 2;        // code bytes of one row in one k tile
constexpr int kCodeStride = kCodeBytes + 16;  // padded row: 20 words apart, ldmatrix rows hit distinct banks
constexpr int kScaleWords = 2;                // .b32 scale words per row per k tile (NVFP4 uses 2, MXFP4 1)
constexpr int kStages = 2;

struct __align__(16) Stage {
  uint8_t a[kTileM * kCodeStride];
  uint8_t b[kTileN * kCodeStride];
  uint32_t sa[kTileM * kScaleWords];
  uint32_t sb[kTileN * kScaleWords];
};

struct Sm120Params {
  const uint8_t* a_codes;
  const uint8_t* a_scales;
  const uint8_t* b_codes;
  const uint8_t* b_scales;
  const float* a_tensor_scale;  // nullable = 1
  const float* b_tensor_scale;
  int64_t m, n, k;
  int32_t swizzled;
  float alpha;
  tiles::OutSpec out;
};

template <int kFormat>
struct FormatTraits;
template <>
struct FormatTraits<QUARTET_FORMAT_NVFP4> {
  static constexpr int kBlock = 16;                       // elements per scale
  static constexpr int kScaleCols = kTileK / kBlock;      // 8 scale bytes per row per k tile
  static constexpr int kGroups = kScaleCols / 4;          // 2 .b32 words per row per k tile
};
template <>
struct FormatTraits<QUARTET_FORMAT_MXFP4> {
  static constexpr int kBlock = 32;
  static constexpr int kScaleCols = kTileK / kBlock;  // 4
  static constexpr int kGroups = kScaleCols / 4;      // 1
};

// ---- the MMA and its software stand-in -----------------------------------------------------------

// One k-block term of the stand-in: partial = sum of qA*qB over the block (exact), times the two scales.
template <int kFormat>
__device__ __forceinline__ float block_term(float partial, uint32_t sa_byte, uint32_t sb_byte) {
  if (kFormat == QUARTET_FORMAT_NVFP4) {
    // .ue4m3: unsigned E4M3; our scales never carry the sign bit (quantizers store codes <= 0x7E).
    float s = e4m3_value(sa_byte & 0x7Fu) * e4m3_value(sb_byte & 0x7Fu);  // exact: 8-bit significand
    return partial * s;                                                    // exact: <= 21 significant bits
  } else {
    if (sa_byte == 0xFFu || sb_byte == 0xFFu) return u2f(0x7FC00000u);  // E8M0 NaN
    // 2^(ea-127) * 2^(eb-127) applied as one exponent shift: exact unless the result leaves the normal range
    return ldexpf(partial, (int)sa_byte + (int)sb_byte - 254);
  }
}

// The stand-in for one block-scaled m16n8k64 MMA: every lane holds exactly the registers that it would pass
// to the instruction; the lane that owns output (i, j) fetches row i of A, column j of B and their scales from
// the lanes that the layout above names, and accumulates the 4 outputs it owns. Not inlined: it is large and
// only a test path.
template <int kFormat>
__device__ __noinline__ float4 emulated_mma(float4 c, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                            uint32_t b0, uint32_t b1, uint32_t sfa, uint32_t sfb, int byte_id_a,
                                            int thread_id_a, int byte_id_b, int thread_id_b) {
  constexpr unsigned kFull = 0xFFFFFFFFu;
  constexpr int kChunksPerBlock = FormatTraits<kFormat>::kBlock / 8;  // 8-element chunks per scale block
  const int lane = (int)(threadIdx.x & 31u), g = lane >> 2, p = lane & 3;
  const int col0 = 2 * p, col1 = 2 * p + 1;
  // the scale registers the hardware reads for rows g, g+8 and columns 2p, 2p+1
  const uint32_t sf_row_lo = __shfl_sync(kFull, sfa, 4 * g + 2 * thread_id_a);
  const uint32_t sf_row_hi = __shfl_sync(kFull, sfa, 4 * g + 2 * thread_id_a + 1);
  const uint32_t sf_col0 = __shfl_sync(kFull, sfb, 4 * col0 + thread_id_b);
  const uint32_t sf_col1 = __shfl_sync(kFull, sfb, 4 * col1 + thread_id_b);
  float d[4] = {c.x, c.y, c.z, c.w};  // (g, 2p), (g, 2p+1), (g+8, 2p), (g+8, 2p+1)
  float part[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll 1
  for (int chunk = 0; chunk < 8; ++chunk) {  // k = 32*h + 8*q .. +7
    const int h = chunk >> 2, q = chunk & 3;
    // every lane takes part in every shuffle; the register index (h) is the same across the warp
    const uint32_t ra_lo = __shfl_sync(kFull, h ? a2 : a0, 4 * g + q);     // row g
    const uint32_t ra_hi = __shfl_sync(kFull, h ? a3 : a1, 4 * g + q);     // row g+8
    const uint32_t rb_0 = __shfl_sync(kFull, h ? b1 : b0, 4 * col0 + q);   // column 2p
    const uint32_t rb_1 = __shfl_sync(kFull, h ? b1 : b0, 4 * col1 + q);   // column 2p+1
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      const float x_lo = e2m1_value((ra_lo >> (4 * e)) & 15u), x_hi = e2m1_value((ra_hi >> (4 * e)) & 15u);
      const float y0 = e2m1_value((rb_0 >> (4 * e)) & 15u), y1 = e2m1_value((rb_1 >> (4 * e)) & 15u);
      part[0] += x_lo * y0;  // every product and partial sum is exact (multiples of 1/4, < 2^13)
      part[1] += x_lo * y1;
      part[2] += x_hi * y0;
      part[3] += x_hi * y1;
    }
    if ((chunk + 1) % kChunksPerBlock == 0) {  // close k-block j: scale it and add it to the accumulator
      const int j = chunk / kChunksPerBlock;
      const uint32_t sh_a = 8u * (uint32_t)(byte_id_a + j), sh_b = 8u * (uint32_t)(byte_id_b + j);
      const uint32_t s_lo = (sf_row_lo >> sh_a) & 0xFFu, s_hi = (sf_row_hi >> sh_a) & 0xFFu;
      const uint32_t s_c0 = (sf_col0 >> sh_b) & 0xFFu, s_c1 = (sf_col1 >> sh_b) & 0xFFu;
      d[0] = d[0] + block_term<kFormat>(part[0], s_lo, s_c0);
      d[1] = d[1] + block_term<kFormat>(part[1], s_lo, s_c1);
      d[2] = d[2] + block_term<kFormat>(part[2], s_hi, s_c0);
      d[3] = d[3] + block_term<kFormat>(part[3], s_hi, s_c1);
      part[0] = part[1] = part[2] = part[3] = 0.0f;
    }
  }
  return make_float4(d[0], d[1], d[2], d[3]);
}

// D += A * B with block scales; selectors {kByteId, 0} for A and B (thread-id 0: the scale of row m sits in
// lane 4*(m%8) + m/8, that of column n in lane 4n).
template <int kFormat, bool kEmulate, int kByteId>
__device__ __forceinline__ void mma_block_scaled(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                 uint32_t sfa, uint32_t sfb) {
  if constexpr (kEmulate) {
    float4 r = emulated_mma<kFormat>(make_float4(d[0], d[1], d[2], d[3]), a[0], a[1], a[2], a[3], b[0], b[1],
                                     sfa, sfb, kByteId, 0, kByteId, 0);
    d[0] = r.x; d[1] = r.y; d[2] = r.z; d[3] = r.w;
  } else {
#if defined(QUARTET_SM120_MMA)
    if constexpr (kFormat == QUARTET_FORMAT_NVFP4) {
      static_assert(kByteId == 0, "scale_vec::4X takes byte-id 0");
      asm volatile(
          "mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale.scale_vec::4X.f32.e2m1.e2m1.f32.ue4m3 "
          "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3}, %10, {%12, %13}, %11, {%12, %13};\n"
          : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
          : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(sfa), "r"(sfb), "n"(kByteId),
            "n"(0));
    } else {
      static_assert(kByteId == 0 || kByteId == 2, "scale_vec::2X takes byte-id 0 or 2");
      asm volatile(
          "mma.sync.aligned.m16n8k64.row.col.kind::mxf4.block_scale.scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0 "
          "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3}, %10, {%12, %13}, %11, {%12, %13};\n"
          : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
          : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(sfa), "r"(sfb), "n"(kByteId),
            "n"(0));
    }
#endif
  }
}

// ---- global -> shared ------------------------------------------------------------------------------

// Four consecutive scale bytes of row r, columns c0..c0+3 (c0 % 4 == 0) as one little-endian word; columns
// >= scale_cols and rows >= rows read as 0 so that padded k steps and rows contribute exact zeros.
__device__ __forceinline__ uint32_t load_scale_word(const uint8_t* scales, bool swizzled, int64_t rows,
                                                    int64_t scale_cols, int64_t r, int64_t c0) {
  if (r >= rows) return 0u;
  uint32_t w = 0u;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int64_t c = c0 + j;
    if (c < scale_cols) w |= (uint32_t)__ldg(scales + tiles::scale_offset(swizzled, r, c, scale_cols)) << (8 * j);
  }
  return w;
}

template <int kFormat>
struct TileLoader {
  using F = FormatTraits<kFormat>;
  static_assert(kTileM * F::kGroups <= kThreads && kTileN * F::kGroups <= kThreads, "one scale word per thread");

  // codes of k tile `kt` into `st` (cp.async, zero-filled outside the matrix)
  __device__ static void codes(const Sm120Params& p, Stage& st, int64_t row_a0, int64_t row_b0, int64_t kt) {
    const int64_t row_bytes = p.k / 2;
    constexpr int kChunksPerRow = kCodeBytes / 16;
    static_assert(kTileM == kTileN && (kTileM * kChunksPerRow) % kThreads == 0, "whole chunks per thread");
#pragma unroll
    for (int it = 0; it < kTileM * kChunksPerRow / kThreads; ++it) {
      const int i = (int)threadIdx.x + it * kThreads;
      const int r = i / kChunksPerRow, ch = i % kChunksPerRow;
      const int64_t kbyte = kt * kCodeBytes + ch * 16;
      const int64_t ga = row_a0 + r, gb = row_b0 + r;
      const bool va = ga < p.m && kbyte < row_bytes, vb = gb < p.n && kbyte < row_bytes;
      tiles::cp_async16(st.a + r * kCodeStride + ch * 16, va ? p.a_codes + ga * row_bytes + kbyte : p.a_codes, va);
      tiles::cp_async16(st.b + r * kCodeStride + ch * 16, vb ? p.b_codes + gb * row_bytes + kbyte : p.b_codes, vb);
    }
  }

  // scale words of k tile `kt` into registers (stored to shared memory later, after this tile's math)
  __device__ static void scales(const Sm120Params& p, int64_t row_a0, int64_t row_b0, int64_t kt, uint32_t& wa,
                                uint32_t& wb) {
    const int64_t scale_cols = p.k / F::kBlock;
    const int i = threadIdx.x;
    wa = wb = 0u;
    if (i < kTileM * F::kGroups) {
      const int r = i / F::kGroups, grp = i % F::kGroups;
      const int64_t c0 = kt * F::kScaleCols + grp * 4;
      wa = load_scale_word(p.a_scales, p.swizzled != 0, p.m, scale_cols, row_a0 + r, c0);
      wb = load_scale_word(p.b_scales, p.swizzled != 0, p.n, scale_cols, row_b0 + r, c0);
    }
  }
  __device__ static void store_scales(Stage& st, uint32_t wa, uint32_t wb) {
    const int i = threadIdx.x;
    if (i < kTileM * F::kGroups) {
      const int r = i / F::kGroups, grp = i % F::kGroups;
      st.sa[r * kScaleWords + grp] = wa;
      st.sb[r * kScaleWords + grp] = wb;
    }
  }
};

// ---- the kernel ------------------------------------------------------------------------------------

// One 64-wide MMA step `kStep` (0 or 1) of the k tile held in `st`.
template <int kFormat, bool kEmulate, int kStep>
__device__ __forceinline__ void mma_step(const Stage& st, int warp_m, int warp_n, int lane,
                                         float (&acc)[kMmaTilesM][kMmaTilesN][4]) {
  // NVFP4: word kStep of the row holds the 4 scales of this step (byte-id 0).
  // MXFP4: word 0 holds the 4 scales of the whole k tile; byte-id 2*kStep picks this step's pair.
  constexpr int kWord = kFormat == QUARTET_FORMAT_NVFP4 ? kStep : 0;
  constexpr int kByteId = kFormat == QUARTET_FORMAT_NVFP4 ? 0 : 2 * kStep;
  const int mat = lane >> 3, mrow = lane & 7;  // ldmatrix: this lane addresses row mrow of matrix mat
  uint32_t af[kMmaTilesM][4], sfa[kMmaTilesM];
#pragma unroll
  for (int mt = 0; mt < kMmaTilesM; ++mt) {
    const int tile_row = warp_m * kWarpTileM + mt * 16;
    // matrices: (rows 0-7, k 0-31), (rows 8-15, k 0-31), (rows 0-7, k 32-63), (rows 8-15, k 32-63) = a0..a3
    const int r = tile_row + (mat & 1) * 8 + mrow;
    // ldmatrix: register j of lane 4g+p = word p of row g of matrix j = codes k 8p..8p+7 of that row
    tiles::ldmatrix_x4(af[mt], st.a + r * kCodeStride + kStep * 32 + (mat >> 1) * 16);
    // scale of row (lane/4) + 8*(lane%2) of this m16 tile (lanes with lane%4 >= 2 repeat it, unread)
    sfa[mt] = st.sa[(tile_row + (lane >> 2) + 8 * (lane & 1)) * kScaleWords + kWord];
  }
  uint32_t bf[kMmaTilesN][2], sfb[kMmaTilesN];
#pragma unroll
  for (int np = 0; np < kMmaTilesN / 2; ++np) {
    // matrices: (cols 0-7, k 0-31), (cols 0-7, k 32-63), (cols 8-15, k 0-31), (cols 8-15, k 32-63)
    const int r = warp_n * kWarpTileN + np * 16 + (mat >> 1) * 8 + mrow;
    uint32_t t[4];
    tiles::ldmatrix_x4(t, st.b + r * kCodeStride + kStep * 32 + (mat & 1) * 16);
    bf[2 * np][0] = t[0]; bf[2 * np][1] = t[1];
    bf[2 * np + 1][0] = t[2]; bf[2 * np + 1][1] = t[3];
  }
#pragma unroll
  for (int nt = 0; nt < kMmaTilesN; ++nt)
    sfb[nt] = st.sb[(warp_n * kWarpTileN + nt * 8 + (lane >> 2)) * kScaleWords + kWord];
#pragma unroll
  for (int mt = 0; mt < kMmaTilesM; ++mt)
#pragma unroll
    for (int nt = 0; nt < kMmaTilesN; ++nt)
      mma_block_scaled<kFormat, kEmulate, kByteId>(acc[mt][nt], af[mt], bf[nt], sfa[mt], sfb[nt]);
}

template <int kFormat, bool kEmulate>
__global__ void __launch_bounds__(kThreads) gemm_fp4_sm120_kernel(Sm120Params p) {
#if !defined(QUARTET_SM120_MMA)
  if constexpr (!kEmulate) return;  // the hardware MMA exists only in the sm_120a image; the host checks that
#endif
  __shared__ Stage smem[kStages];
  using Loader = TileLoader<kFormat>;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int warp_m = warp / (kTileN / kWarpTileN), warp_n = warp % (kTileN / kWarpTileN);
  const int64_t row_a0 = (int64_t)blockIdx.y * kTileM, row_b0 = (int64_t)blockIdx.x * kTileN;
  const int64_t k_tiles = (p.k + kTileK - 1) / kTileK;

  float acc[kMmaTilesM][kMmaTilesN][4];
#pragma unroll
  for (int mt = 0; mt < kMmaTilesM; ++mt)
#pragma unroll
    for (int nt = 0; nt < kMmaTilesN; ++nt)
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[mt][nt][i] = 0.0f;

  uint32_t wa, wb;
  Loader::codes(p, smem[0], row_a0, row_b0, 0);
  tiles::cp_async_commit();
  Loader::scales(p, row_a0, row_b0, 0, wa, wb);
  Loader::store_scales(smem[0], wa, wb);

  for (int64_t kt = 0; kt < k_tiles; ++kt) {
    const int cur = (int)(kt & 1), nxt = cur ^ 1;
    const bool more = kt + 1 < k_tiles;
    if (more) {  // stage `nxt` was last read before the barrier that ended the previous iteration
      Loader::codes(p, smem[nxt], row_a0, row_b0, kt + 1);
      tiles::cp_async_commit();
      Loader::scales(p, row_a0, row_b0, kt + 1, wa, wb);  // global loads in flight during the math below
      tiles::cp_async_wait<1>();
    } else {
      tiles::cp_async_wait<0>();
    }
    __syncthreads();
    mma_step<kFormat, kEmulate, 0>(smem[cur], warp_m, warp_n, lane, acc);
    mma_step<kFormat, kEmulate, 1>(smem[cur], warp_m, warp_n, lane, acc);
    if (more) Loader::store_scales(smem[nxt], wa, wb);
    __syncthreads();
  }

  // epilogue: y = acc * fl(fl(gA * gB) * alpha), read on the device (no host sync)
  const float mult = tiles::effective_alpha(p.a_tensor_scale, p.b_tensor_scale, p.alpha);
  const int g = lane >> 2, q = lane & 3;
#pragma unroll
  for (int mt = 0; mt < kMmaTilesM; ++mt) {
    const int64_t row = row_a0 + warp_m * kWarpTileM + mt * 16 + g;
#pragma unroll
    for (int nt = 0; nt < kMmaTilesN; ++nt) {
      const int64_t col = row_b0 + warp_n * kWarpTileN + nt * 8 + 2 * q;
      // unscale 1: the block-scaled MMA accumulates the true sum
      tiles::store_pair(p.out, row, col, acc[mt][nt][0], acc[mt][nt][1], 1.0f, mult);
      tiles::store_pair(p.out, row + 8, col, acc[mt][nt][2], acc[mt][nt][3], 1.0f, mult);
    }
  }
}

template <int kFormat, bool kEmulate>
int32_t launch(const Sm120Params& p, const char* fn) {
  auto kernel = gemm_fp4_sm120_kernel<kFormat, kEmulate>;
  if (!kEmulate) {
    // The instruction exists on compute capability 12.0 only, and only the sm_120a image carries it.
    int dev = 0, major = 0, minor = 0;
    QUARTET_CUDA_TRY(fn, cudaGetDevice(&dev));
    QUARTET_CUDA_TRY(fn, cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    QUARTET_CUDA_TRY(fn, cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    if (major != 12 || minor != 0)
      return fail(QUARTET_ERR_UNSUPPORTED, fn,
                  "the sm_120a block-scaled FP4 path needs a compute capability 12.0 GPU, this one is %d.%d",
                  major, minor);
    cudaFuncAttributes attr;
    cudaError_t e = cudaFuncGetAttributes(&attr, kernel);
    if (e != cudaSuccess || attr.binaryVersion != 120) {
      cudaGetLastError();
      return fail(QUARTET_ERR_UNSUPPORTED, fn,
                  "this build of libquartet has no sm_120a code for the block-scaled FP4 GEMM (archs: %s)",
                  arch_list());
    }
  }
  const int64_t grid_m = (p.m + kTileM - 1) / kTileM, grid_n = (p.n + kTileN - 1) / kTileN;
  if (grid_m > 65535 || grid_n > 0x7FFFFFFF)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "m = %lld is too large for the sm_120 GEMM grid (max %d)",
                (long long)p.m, 65535 * kTileM);
  kernel<<<dim3((unsigned)grid_n, (unsigned)grid_m), kThreads, 0, current_stream()>>>(p);
  return check_launch(fn);
}

}  // namespace

int32_t gemm_fp4_sm120(const Fp4GemmArgs& a, bool emulate) {
  const char* fn = "quartet_gemm_fp4";
  if (a.k % 32 != 0)
    return fail(QUARTET_ERR_UNSUPPORTED, fn,
                "the sm_120 block-scaled path needs k %% 32 == 0 (16-byte code rows), got k = %lld",
                (long long)a.k);
  if (((uintptr_t)a.a_codes & 15u) || ((uintptr_t)a.b_codes & 15u))
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "the sm_120 block-scaled path needs 16-byte aligned code buffers");
  Sm120Params p;
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
  p.alpha = a.alpha;
  p.out.out = a.out;
  p.out.m = a.m;
  p.out.n = a.n;
  p.out.out_bf16 = a.out_dtype == QUARTET_DTYPE_BF16;
  p.out.accumulate = a.accumulate ? 1 : 0;
  p.out.paired = (a.n % 2 == 0) && ((uintptr_t)a.out % (p.out.out_bf16 ? 4u : 8u) == 0);
  if (a.format == QUARTET_FORMAT_NVFP4)
    return emulate ? launch<QUARTET_FORMAT_NVFP4, true>(p, fn) : launch<QUARTET_FORMAT_NVFP4, false>(p, fn);
  return emulate ? launch<QUARTET_FORMAT_MXFP4, true>(p, fn) : launch<QUARTET_FORMAT_MXFP4, false>(p, fn);
}

}  // namespace cuda
}  // namespace quartet
