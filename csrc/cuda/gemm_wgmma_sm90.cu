// gemm_wgmma_sm90.cu — the block-scaled FP4 GEMM of numerics.md §3.6 on Hopper (sm_90a): the operands are
// decoded to 16 bits inside the main loop (gemm_tiles.cuh: NVFP4 -> FP16 times 2^-14, MXFP4 -> BF16, both
// exact) and multiplied by warpgroup MMAs (wgmma) with FP32 accumulation.
//
//   Y[m, n] = fl(fl(gA * gB) * alpha) * sum_k (qA * sA)[m, k] * (qB * sB)[n, k]
//
// Why it is built this way: without FP4 tensor cores the decode (about two integer instructions per value)
// is the bottleneck, not the MMAs, so the design minimizes decode work per FLOP and keeps it off the wgmma
// issue path.
//  - A CTA computes a 128 x kBN tile (kBN = 256, or 128 for narrow n) with three warpgroups (the register
//    file then allows 168 registers per thread, enough for the 128 FP32 accumulators of m64n256):
//    warpgroups 0 and 1 ("consumers") own 64 output rows each, decode the A rows of their own tile rows and
//    issue the wgmmas; warpgroup 2 ("decoder") decodes B.
//  - Two CTAs along m form a cluster and share the B tile: each decoder decodes half of the B rows into its
//    own shared memory and the copy engine (cp.async.bulk to the peer CTA) delivers that half to the peer, so
//    a CTA decodes 128 + kBN/2 rows per 64-wide k step instead of 128 + kBN.
//  - Every k step is split into tasks: one 16-byte code chunk (32 values) of one row. Each thread copies the
//    codes and scale word of its own tasks global -> shared (cp.async, a kStages-deep ring per thread,
//    zero-filled outside the matrix; only codes travel, half the bytes of a BF16 GEMM) and decodes them into a
//    kDecStages-deep ring of 16-bit A [128 x 64] and B [kBN x 64] tiles in the 128-byte-swizzled K-major
//    layout that wgmma reads. A thread only reads what it copied itself, so the copy ring needs no barrier.
//  - Hand-offs use mbarriers (CTA-local named barriers cannot span the cluster):
//      FULL[b]  384 arrivals (the 256 consumers, having written their A rows; the 128 decoder threads, having
//               written this CTA's B half) + the bytes of the peer's B half (expect_tx by decoder thread 0);
//      EMPTY[b] 512 arrivals: the 256 local and the 256 peer consumers, once their wgmmas reading tile b
//               completed (a decoder writes tile b here and, through the copy, in the peer).
//    The decode of step s + 1 runs while the tensor cores execute step s; the decoder runs up to kDecStages
//    steps ahead of the consumers.
//
// k-slot order: output chunk 4h + p of a row (8 values) holds pair p of code words 4h..4h+3 of that row's
// 64-value step (pairs as in gemm_tiles.cuh). This permutes k within each 32-wide group identically for A and
// B, which leaves every dot product unchanged.
//
// Shapes: any m, n; k % 64 == 0 (NVFP4) or k % 128 == 0 (MXFP4: a 4-byte scale word spans 128 k); 16-byte
// aligned code buffers, 4-byte aligned scale buffers. Everything else goes to the mma.sync path.
// Measured on an H100 (bench/gemm.ts shapes): 0.44-0.52x of cuBLAS BF16. What limits it: the decode is about
// 3300 warp-instructions per SM per 64-wide k step (mostly 15 integer/FP16 instructions per 8 codes) against
// about 1000 cycles of tensor-core work, and each warp's decode chain is latency-bound (tensor pipe ~41% busy).
#include <stdint.h>
#include <string.h>

#include "cuda/gemm_paths.h"
#include "cuda/gemm_tiles.cuh"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ == 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QUARTET_SM90_WGMMA 1  // this device pass can issue wgmma
#endif

namespace quartet {
namespace cuda {
namespace {

using tiles::Fp4Decoder;

constexpr int kBM = 128, kBK = 64, kStages = 4;
constexpr int kConsumerThreads = 256, kDecoderThreads = 128, kThreads = kConsumerThreads + kDecoderThreads;
constexpr int kBarDecoders = 1;  // named barrier of the decoder warpgroup (0 is __syncthreads)

template <int kBN>
struct Layout {
  static constexpr int kRows = kBM + kBN;            // code rows per step: A rows, then B rows
  static constexpr int kTasks = 2 * kRows;           // tasks 0..255: A (one per consumer thread), then B
  static constexpr int kDecoderTasks = kBN / kDecoderThreads;  // this CTA's B half: kBN / 2 rows x 2 chunks
  static constexpr uint32_t kHalfBytes = kBN / 2 * 128;        // decoded bytes of one B half
  static constexpr int kDecA = kBM * 128;            // decoded A: 128 rows x 64 16-bit values, then B
  static constexpr int kDecBytes = kDecA + kBN * 128;
  static constexpr int kStageScales = kTasks * 16;   // codes: one 16-byte chunk per task
  static constexpr int kStageBytes = kStageScales + kTasks * 4;  // + one scale word per task
  static constexpr int kDecStages = kBN == 256 ? 3 : 4;
  static constexpr int kStagesOffset = kDecStages * kDecBytes;
  static constexpr int kSmemBytes = 1024 + kStagesOffset + kStages * kStageBytes;  // + slack for 1024-alignment
  static constexpr int kBarBytes = 16 * kDecStages;  // FULL and EMPTY mbarriers, after the stages
  static_assert(2 * kBM == kConsumerThreads, "one A task per consumer thread");
  static_assert(kDecoderTasks * kDecoderThreads == kBN, "whole B tasks per decoder thread");
  static_assert(kHalfBytes % 16 == 0 && kBarDecoders > 0, "bulk copies move multiples of 16 bytes");
  static_assert(kSmemBytes + kBarBytes <= 227 * 1024, "fits the shared memory of an sm_90 CTA");
};

struct WgmmaParams {
  const uint8_t *a_codes, *a_scales, *b_codes, *b_scales;
  const float *a_tensor_scale, *b_tensor_scale;  // nullable = 1
  int64_t m, n, k;
  int64_t scale_cols, scale_tiles;  // k / block, and the 4-column groups of the swizzled layout
  int64_t scale_step;               // bytes from one 4-column scale group of a row to the next
  int32_t swizzled;
  float alpha;
  tiles::OutSpec out;
};

#if defined(QUARTET_SM90_WGMMA)

// ---- synchronization and wgmma wrappers ------------------------------------------------------------------

__device__ __forceinline__ void bar_sync(int id, int count) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
// Generic-proxy stores to shared memory become visible to wgmma (async proxy) reads after this + a barrier.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
template <int kN>
__device__ __forceinline__ void fence_acc(float (&d)[kN]) {
#pragma unroll
  for (int i = 0; i < kN; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

__device__ __forceinline__ void wgmma_m64n256k16_f16(float (&d)[128], uint64_t desc_a, uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63,"
      "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79,"
      "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95,"
      "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111,"
      "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
      "}, %128, %129, 1, 1, 1, 0, 0;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
        "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
        "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
        "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
        "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
        "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(desc_a), "l"(desc_b));
}

__device__ __forceinline__ void wgmma_m64n256k16_bf16(float (&d)[128], uint64_t desc_a, uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63,"
      "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79,"
      "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95,"
      "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111,"
      "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
      "}, %128, %129, 1, 1, 1, 0, 0;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
        "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
        "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
        "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
        "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
        "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(desc_a), "l"(desc_b));
}

__device__ __forceinline__ void wgmma_m64n128k16_f16(float (&d)[64], uint64_t desc_a, uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
      "}, %64, %65, 1, 1, 1, 0, 0;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(desc_a), "l"(desc_b));
}

__device__ __forceinline__ void wgmma_m64n128k16_bf16(float (&d)[64], uint64_t desc_a, uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,"
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,"
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,"
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
      "}, %64, %65, 1, 1, 1, 0, 0;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(desc_a), "l"(desc_b));
}

template <int kBN, bool kBf16>
__device__ __forceinline__ void wgmma_step(float (&d)[kBN / 2], uint64_t desc_a, uint64_t desc_b) {
  if constexpr (kBN == 256) {
    if constexpr (kBf16) wgmma_m64n256k16_bf16(d, desc_a, desc_b);
    else wgmma_m64n256k16_f16(d, desc_a, desc_b);
  } else {
    if constexpr (kBf16) wgmma_m64n128k16_bf16(d, desc_a, desc_b);
    else wgmma_m64n128k16_f16(d, desc_a, desc_b);
  }
}

// Shared-memory matrix descriptor of a K-major tile with 128-byte rows, 128-byte swizzle, 8-row groups
// 1024 bytes apart (the tile starts 1024-aligned). Adding 2 advances the start by 32 bytes = 16 k values.
__device__ __forceinline__ uint64_t smem_desc(const uint8_t* tile) {
  const uint32_t addr = tiles::smem_u32(tile);
  uint64_t d = (uint64_t)((addr & 0x3FFFFu) >> 4);
  d |= (uint64_t)1 << 16;            // leading byte offset (unused with a swizzled K-major layout)
  d |= (uint64_t)(1024 >> 4) << 32;  // stride byte offset: 8 rows x 128 bytes
  d |= (uint64_t)1 << 62;            // 128-byte swizzle
  return d;
}

// ---- decoder side ------------------------------------------------------------------------------------------

// Where one task's code chunk and scale word come from at step 0 (per-step strides are uniform: 32 code bytes,
// p.scale_step scale bytes per step, per pair of steps for MXFP4). Null: the row lies outside the matrix.
struct TaskSource {
  const uint8_t* codes;
  const uint8_t* scales;
};

template <int kFormat, int kBN>
__device__ __forceinline__ TaskSource task_source(const WgmmaParams& p, int task, int64_t m0, int64_t n0) {
  const int r = task >> 1, h = task & 1;
  const bool is_a = r < kBM;
  const int64_t grow = is_a ? m0 + r : n0 + (r - kBM);
  if (grow >= (is_a ? p.m : p.n)) return TaskSource{nullptr, nullptr};
  const uint8_t* sc = is_a ? p.a_scales : p.b_scales;
  // §3.5 swizzled: 4-column group g of row r at ((r >> 7) * tiles + g) * 512 + (r & 31) * 16 + ((r >> 5) & 3) * 4
  const uint8_t* scales = p.swizzled ? sc + (grow >> 7) * p.scale_tiles * 512 + (grow & 31) * 16 + ((grow >> 5) & 3) * 4
                                     : sc + grow * p.scale_cols;
  return TaskSource{(is_a ? p.a_codes : p.b_codes) + grow * (p.k / 2) + 16 * h, scales};
}

template <int kFormat>
__device__ __forceinline__ void load_task(const WgmmaParams& p, const TaskSource& t, uint8_t* stage_codes,
                                          uint8_t* stage_scales, int task, int s) {
  const int scale_group = kFormat == QUARTET_FORMAT_NVFP4 ? s : (s >> 1);
  const bool v = t.codes != nullptr;
  // an invalid row copies nothing (src-size 0) and zero-fills; its source address is any valid one
  tiles::cp_async16(stage_codes + 16 * task, v ? t.codes + (int64_t)s * (kBK / 2) : p.a_codes, v);
  tiles::cp_async4(stage_scales + 4 * task, v ? t.scales + (int64_t)scale_group * p.scale_step : p.a_scales, v);
}

// Decodes task `task` of step s (its own copies in the stage) into the decoded tiles `dec`.
template <int kFormat>
__device__ __forceinline__ void decode_task(const uint8_t* stage_codes, const uint8_t* stage_scales, int task, int64_t s,
                                            uint8_t* dec) {
  using D = Fp4Decoder<kFormat>;
  const int r = task >> 1, h = task & 1;
  const uint4 c = *(const uint4*)(stage_codes + 16 * task);
  const uint32_t sw = *(const uint32_t*)(stage_scales + 4 * task);
  uint32_t sp0, sp1;
  if (kFormat == QUARTET_FORMAT_NVFP4) {  // words 0, 1 of the chunk: block 2h of the step; words 2, 3: block 2h + 1
    sp0 = D::scale_pair_of_byte(sw, 2 * h);
    sp1 = D::scale_pair_of_byte(sw, 2 * h + 1);
  } else {  // the word spans steps s & ~1 and s | 1, two blocks each: block h of step s
    sp0 = sp1 = D::scale_pair_of_byte(sw, 2 * (int)(s & 1) + h);
  }
  uint32_t q[4][4];
  D::decode(c.x, sp0, q[0]);
  D::decode(c.y, sp0, q[1]);
  D::decode(c.z, sp1, q[2]);
  D::decode(c.w, sp1, q[3]);
  uint8_t* row = dec + r * 128;  // A rows 0..127, then B rows: one tile after the other; 128-byte swizzle
  const int key = r & 7;
#pragma unroll
  for (int pr = 0; pr < 4; ++pr)
    *(uint4*)(row + (((4 * h + pr) ^ key) << 4)) = make_uint4(q[0][pr], q[1][pr], q[2][pr], q[3][pr]);
}

// ---- mbarriers, the cluster, the copy engine ---------------------------------------------------------------

__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
// Barrier operations with their default semantics (release/acquire at CTA scope), as cluster pipelines use
// them: the cross-CTA data arrives through the copy engine (complete_tx), and a remote arrive only tells the
// peer that this CTA's wgmmas finished reading a tile. Cluster-scope forms would compile to GPU-wide memory
// barriers and L1 invalidations on every step.
__device__ __forceinline__ void mbar_arrive_local(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// `bar` is a shared::cluster address (from mapa): an arrive on the peer CTA's barrier.
__device__ __forceinline__ void mbar_arrive_remote(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n.reg .pred P1;\nWAIT:\nmbarrier.try_wait.parity.shared::cta.b64 P1, [%0], %1;\n"
      "@P1 bra DONE;\nbra WAIT;\nDONE:\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
// Copy engine: `bytes` of this CTA's shared memory to the peer's (dst and bar are shared::cluster addresses);
// completion counts `bytes` of transactions on the peer's barrier.
__device__ __forceinline__ void bulk_copy_to_peer(uint32_t dst, uint32_t src, uint32_t bytes, uint32_t bar) {
  asm volatile("cp.async.bulk.shared::cluster.shared::cta.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
               "r"(src), "r"(bytes), "r"(bar)
               : "memory");
}
__device__ __forceinline__ uint32_t peer_address(uint32_t local, uint32_t peer_rank) {
  uint32_t r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(local), "r"(peer_rank));
  return r;
}
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}
__device__ __forceinline__ uint32_t cluster_rank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return r;
}

#endif  // QUARTET_SM90_WGMMA

// ---- the kernel ------------------------------------------------------------------------------------------

// Launched as clusters of 1 x 2 CTAs (the two m tiles of one n tile); see the file comment.
template <int kFormat, int kBN>
__global__ void __launch_bounds__(kThreads, 1) fp4_wgmma_kernel(const __grid_constant__ WgmmaParams p) {
#if defined(QUARTET_SM90_WGMMA)
  using L = Layout<kBN>;
  using D = Fp4Decoder<kFormat>;
  extern __shared__ __align__(1024) uint8_t smem_raw[];
  uint8_t* const smem = smem_raw + ((1024u - (tiles::smem_u32(smem_raw) & 1023u)) & 1023u);
  uint8_t* const stages = smem + L::kStagesOffset;
  const uint32_t bars = tiles::smem_u32(stages + kStages * L::kStageBytes);
  auto full_bar = [&](int b) { return bars + 8u * (uint32_t)b; };
  auto empty_bar = [&](int b) { return bars + 8u * (uint32_t)(L::kDecStages + b); };
  const uint32_t rank = cluster_rank(), peer = rank ^ 1u;
  const int64_t n0 = (int64_t)blockIdx.x * kBN, m0 = (int64_t)blockIdx.y * kBM;
  const int steps = (int)(p.k / kBK);
  const int tid = (int)threadIdx.x;
  constexpr int kFullCount = kConsumerThreads + kDecoderThreads, kEmptyCount = 2 * kConsumerThreads;
  constexpr uint32_t kHalfBytes = L::kHalfBytes;
  if (tid == 0) {
    for (int b = 0; b < L::kDecStages; ++b) {
      mbar_init(full_bar(b), kFullCount);
      mbar_init(empty_bar(b), kEmptyCount);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  cluster_sync();  // both CTAs' barriers exist before anyone arrives on them
  auto load = [&](const TaskSource& src, int task, int s) {
    uint8_t* st = stages + (s & (kStages - 1)) * L::kStageBytes;
    load_task<kFormat>(p, src, st, st + L::kStageScales, task, s);
  };
  auto decode = [&](int task, int s, int b) {
    const uint8_t* st = stages + (s & (kStages - 1)) * L::kStageBytes;
    decode_task<kFormat>(st, st + L::kStageScales, task, s, smem + b * L::kDecBytes);
  };

  if (tid < kConsumerThreads) {
    // ---- consumers: decode A task `tid` (a row of this warpgroup), wgmma ----
    const int wg = tid >> 7, task = tid;
    const TaskSource src = task_source<kFormat, kBN>(p, task, m0, n0);
    const uint32_t peer_empty = peer_address(empty_bar(0), peer);
    for (int s = 0; s < kStages; ++s) {
      if (s < steps) load(src, task, s);
      tiles::cp_async_commit();
    }
    tiles::cp_async_wait<kStages - 1>();
    decode(task, 0, 0);
    fence_proxy_async();
    mbar_arrive_local(full_bar(0));
    if (kStages < steps) load(src, task, kStages);
    tiles::cp_async_commit();

    float acc[kBN / 2];
#pragma unroll
    for (int i = 0; i < kBN / 2; ++i) acc[i] = 0.0f;
    int b = 0, b_prev = L::kDecStages - 1, round = 0;  // tile of step s (use number `round`), of step s - 1
    for (int s = 0; s < steps; ++s) {
      const uint8_t* dec = smem + b * L::kDecBytes;
      mbar_wait(full_bar(b), (uint32_t)round & 1u);  // A (both warpgroups) and B (both CTAs' decoders) of step s
      const uint64_t da = smem_desc(dec + wg * 64 * 128), db = smem_desc(dec + L::kDecA);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) wgmma_step<kBN, D::kBf16>(acc, da + 2 * kk, db + 2 * kk);
      wgmma_commit();
      int b_next = b + 1, round_next = round;
      if (b_next == L::kDecStages) b_next = 0, round_next = round + 1;
      if (s + 1 < steps) {
        tiles::cp_async_wait<kStages - 1>();  // own copies of step s + 1 landed
        wgmma_wait<1>();                      // own wgmmas of step s - 1 are done
        if (s >= 1 && s - 1 + L::kDecStages < steps) {
          mbar_arrive_local(empty_bar(b_prev));
          mbar_arrive_remote(peer_empty + 8u * (uint32_t)b_prev);
        }
        // A rows of tile b_next are read only by this warpgroup, last by its wgmmas of step s + 1 - kDecStages
        decode(task, s + 1, b_next);
        fence_proxy_async();
        mbar_arrive_local(full_bar(b_next));
        if (s + 1 + kStages < steps) load(src, task, s + 1 + kStages);
        tiles::cp_async_commit();
      }
      b_prev = b;
      b = b_next;
      round = round_next;
    }
    wgmma_wait<0>();
    fence_acc(acc);

    const float mult = tiles::effective_alpha(p.a_tensor_scale, p.b_tensor_scale, p.alpha);
    const int warp = (tid >> 5) & 3, lane = tid & 31;
    const int64_t row = m0 + 64 * wg + 16 * warp + (lane >> 2);
#pragma unroll
    for (int j = 0; j < kBN / 8; ++j) {
      const int64_t col = n0 + 8 * j + 2 * (lane & 3);
      tiles::store_pair(p.out, row, col, acc[4 * j], acc[4 * j + 1], D::kUnscale, mult);
      tiles::store_pair(p.out, row + 8, col, acc[4 * j + 2], acc[4 * j + 3], D::kUnscale, mult);
    }
  } else {
    // ---- decoder: half of the B rows (this CTA's rank); the copy engine sends them to the peer ----
    constexpr int kTasksHere = L::kDecoderTasks;
    const int dt = tid - kConsumerThreads;
    const uint32_t half_off = (uint32_t)(L::kDecA + (int)rank * (int)kHalfBytes);  // this CTA's B rows in a tile
    const uint32_t peer_smem = peer_address(tiles::smem_u32(smem), peer), peer_full = peer_address(full_bar(0), peer);
    int task[kTasksHere];
    TaskSource src[kTasksHere];
#pragma unroll
    for (int i = 0; i < kTasksHere; ++i) {
      task[i] = 2 * kBM + (int)rank * kBN + dt + i * kDecoderThreads;
      src[i] = task_source<kFormat, kBN>(p, task[i], m0, n0);
    }
    for (int s = 0; s < kStages; ++s) {
      if (s < steps)
#pragma unroll
        for (int i = 0; i < kTasksHere; ++i) load(src[i], task[i], s);
      tiles::cp_async_commit();
    }
    int b = 0, round = 0;
    for (int s = 0; s < steps; ++s) {
      tiles::cp_async_wait<kStages - 1>();                                 // own copies of step s landed
      if (round > 0) mbar_wait(empty_bar(b), (uint32_t)(round - 1) & 1u);  // both CTAs done with step s - kDecStages
#pragma unroll
      for (int i = 0; i < kTasksHere; ++i) decode(task[i], s, b);
      fence_proxy_async();  // the tile is read by wgmma here and by the copy engine (both the async proxy)
      bar_sync(kBarDecoders, kDecoderThreads);  // this CTA's whole B half is written
      if (dt == 0) {
        const uint32_t off = (uint32_t)(b * L::kDecBytes) + half_off;
        bulk_copy_to_peer(peer_smem + off, tiles::smem_u32(smem) + off, kHalfBytes, peer_full + 8u * (uint32_t)b);
        mbar_arrive_expect_tx(full_bar(b), kHalfBytes);  // the peer's half arrives here the same way
      } else {
        mbar_arrive_local(full_bar(b));
      }
      if (s + kStages < steps)
#pragma unroll
        for (int i = 0; i < kTasksHere; ++i) load(src[i], task[i], s + kStages);
      tiles::cp_async_commit();
      if (++b == L::kDecStages) b = 0, ++round;
    }
  }
  cluster_sync();  // neither CTA leaves while the other may still write into its shared memory or barriers
#endif
}

template <int kFormat, int kBN>
int32_t launch(const WgmmaParams& p, const char* fn) {
  auto kernel = fp4_wgmma_kernel<kFormat, kBN>;
  const int smem_bytes = Layout<kBN>::kSmemBytes + Layout<kBN>::kBarBytes;
  cudaFuncAttributes attr;
  const cudaError_t e = cudaFuncGetAttributes(&attr, kernel);
  if (e != cudaSuccess || attr.binaryVersion != 90 || !strstr(arch_list(), "90a")) {
    cudaGetLastError();
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "this build of libquartet has no sm_90a code for the wgmma FP4 GEMM (archs: %s)",
                arch_list());
  }
  QUARTET_CUDA_TRY(fn, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes));
  const int64_t grid_n = (p.n + kBN - 1) / kBN;
  int64_t grid_m = (p.m + kBM - 1) / kBM;
  grid_m += grid_m & 1;  // whole clusters of two m tiles (a padding tile still decodes B for its partner)
  if (grid_m > 65535 || grid_n > 0x7FFFFFFF)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "m = %lld is too large for the wgmma FP4 GEMM grid (max %d)",
                (long long)p.m, 65535 * kBM);
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3((unsigned)grid_n, (unsigned)grid_m);
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = (size_t)smem_bytes;
  cfg.stream = current_stream();
  cudaLaunchAttribute attrs[1];
  attrs[0].id = cudaLaunchAttributeClusterDimension;
  attrs[0].val.clusterDim.x = 1;
  attrs[0].val.clusterDim.y = 2;
  attrs[0].val.clusterDim.z = 1;
  cfg.attrs = attrs;
  cfg.numAttrs = 1;
  int clusters = 0;  // e.g. a partitioned GPU may not co-schedule the pair: then the dispatcher falls back
  if (cudaOccupancyMaxActiveClusters(&clusters, kernel, &cfg) != cudaSuccess || clusters < 1) {
    cudaGetLastError();
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "this GPU cannot run the 2-CTA clusters of the wgmma FP4 GEMM");
  }
  QUARTET_CUDA_TRY(fn, cudaLaunchKernelEx(&cfg, kernel, p));
  return check_launch(fn);
}

}  // namespace

int32_t gemm_fp4_wgmma_sm90(const Fp4GemmArgs& a) {
  const char* fn = "quartet_gemm_fp4";
  int dev = 0, major = 0, minor = 0;
  QUARTET_CUDA_TRY(fn, cudaGetDevice(&dev));
  QUARTET_CUDA_TRY(fn, cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  QUARTET_CUDA_TRY(fn, cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  if (major != 9 || minor != 0)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "the wgmma FP4 GEMM needs a compute capability 9.0 GPU, this one is %d.%d",
                major, minor);
  const bool nvfp4 = a.format == QUARTET_FORMAT_NVFP4;
  const int64_t k_multiple = nvfp4 ? kBK : 2 * kBK;
  if (a.k % k_multiple != 0)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "the wgmma FP4 GEMM needs k %% %lld == 0, got k = %lld", (long long)k_multiple,
                (long long)a.k);
  if (a.k / kBK > 0x7FFFFFFF)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "k = %lld is too large for the wgmma FP4 GEMM", (long long)a.k);
  if (((uintptr_t)a.a_codes | (uintptr_t)a.b_codes) & 15u)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "the wgmma FP4 GEMM needs 16-byte aligned code buffers");
  if (((uintptr_t)a.a_scales | (uintptr_t)a.b_scales) & 3u)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "the wgmma FP4 GEMM needs 4-byte aligned scale buffers");
  WgmmaParams p;
  p.a_codes = a.a_codes;
  p.a_scales = a.a_scales;
  p.b_codes = a.b_codes;
  p.b_scales = a.b_scales;
  p.a_tensor_scale = a.a_tensor_scale;
  p.b_tensor_scale = a.b_tensor_scale;
  p.m = a.m;
  p.n = a.n;
  p.k = a.k;
  p.scale_cols = a.k / block_size(a.format);
  p.scale_tiles = (p.scale_cols + 3) / 4;
  p.swizzled = a.scale_layout == QUARTET_SCALES_SWIZZLED;
  p.scale_step = p.swizzled ? 512 : 4;  // bytes between consecutive 4-column scale groups of a row
  p.alpha = a.alpha;
  p.out.out = a.out;
  p.out.m = a.m;
  p.out.n = a.n;
  p.out.out_bf16 = a.out_dtype == QUARTET_DTYPE_BF16;
  p.out.accumulate = a.accumulate ? 1 : 0;
  p.out.paired = (a.n % 2 == 0) && ((uintptr_t)a.out % (p.out.out_bf16 ? 4u : 8u) == 0);
  // 256-wide tiles unless n is narrow or the last 256-wide tile would be mostly padding
  const bool wide = a.n > 128 && (a.n % 256 == 0 || a.n % 256 > 128);
  if (nvfp4) return wide ? launch<QUARTET_FORMAT_NVFP4, 256>(p, fn) : launch<QUARTET_FORMAT_NVFP4, 128>(p, fn);
  return wide ? launch<QUARTET_FORMAT_MXFP4, 256>(p, fn) : launch<QUARTET_FORMAT_MXFP4, 128>(p, fn);
}

}  // namespace cuda
}  // namespace quartet
