// gemm_tiles.cuh — device pieces shared by the decode-in-the-main-loop FP4 GEMMs (gemm_mma_bf16.cu,
// gemm_wgmma_sm90.cu) and the built-in dense GEMM (gemm_builtin.cu): asynchronous copies, fragment loads,
// the 16-bit MMA, the FP4 -> 16-bit decoders and the epilogue.
//
// Decoding (numerics.md §3.6). Hopper and Ampere have no FP4 tensor cores, so each operand element q * s is
// rebuilt as a 16-bit float and fed to the FP16/BF16 tensor cores, which multiply exactly and accumulate in
// FP32. q * s is exact in 16 bits: an E2M1 value has at most 2 significant bits and a block scale at most 4
// (E4M3) or 1 (E8M0).
//  - NVFP4 decodes to **FP16**, scaled by 2^-14: q * s * 2^-14 is a multiple of 2^-24 (the FP16 subnormal
//    step, since q * s is a multiple of 2^-10) below 2688 * 2^-14 < 0.17, so it is exact in FP16, subnormals
//    included. The FP32 accumulator then holds 2^-28 times the true sum (every product is at least 2^-48, far
//    from FP32 underflow), and the epilogue multiplies by 2^28, which is exact. Scaling by a power of two
//    changes no rounding, so this is the same computation as a BF16 decode, with FP16's cheaper bit tricks.
//  - MXFP4 decodes to **BF16** (E8M0 scales span 2^-127..2^127, which only BF16 covers): q as BF16 bits
//    (times 2^-126), times 2^126, times the E8M0 scale, each multiply exact.
// Both decoders turn one 32-bit word of packed codes (elements e0..e7, e_i in nibble i, §1.1) into four
// 16-bit pairs in a fixed order, the same for A and B, so the dot product over k is unchanged:
//     pair 0 = (e0, e4), pair 1 = (e2, e6), pair 2 = (e1, e5), pair 3 = (e3, e7)       (low half first)
#pragma once
#include <stdint.h>

#include "cuda/cuda_common.cuh"

namespace quartet {
namespace cuda {
namespace tiles {

// ---- asynchronous copies and fragment loads (sm_80+) ------------------------------------------------

__device__ __forceinline__ uint32_t smem_u32(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }

// 16 bytes global -> shared; valid == false writes zeros without reading (src-size 0).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
// 4 bytes global -> shared, zero-filled when !valid.
__device__ __forceinline__ void cp_async4(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_u32(dst)), "l"(src),
               "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// Four 8x8 b16 matrices; lanes 8j..8j+7 address the rows of matrix j; register j of lane 4r + c receives
// elements (r, 2c), (r, 2c + 1) of matrix j.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row_addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(row_addr)));
}

// D += A * B, m16n8k16, 16-bit inputs (kBf16: BF16, else FP16), FP32 accumulators.
//   A (16 x 16): a0 = (g, 2p..2p+1), a1 = (g+8, 2p..), a2 = (g, 2p+8..), a3 = (g+8, 2p+8..)
//   B (16 x 8):  b0 = (k 2p..2p+1, n g), b1 = (k 2p+8.., n g);  D: d0,d1 = (g, 2p..), d2,d3 = (g+8, 2p..)
template <bool kBf16>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (kBf16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// ---- bit helpers -------------------------------------------------------------------------------------

__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
  uint32_t d;
  asm("prmt.b32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(sel));
  return d;
}
// Exact 16-bit products (the operands below always have an exact product): fma with -0 as the addend is
// the plain product (also for +-0 results), and exists for both types on sm_80.
__device__ __forceinline__ uint32_t mul_f16x2(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("fma.rn.f16x2 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(0x80008000u));
  return d;
}
__device__ __forceinline__ uint32_t mul_bf16x2(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("fma.rn.bf16x2 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(0x80008000u));
  return d;
}

// ---- FP4 decoders --------------------------------------------------------------------------------------

template <int kFormat>
struct Fp4Decoder;

// NVFP4 -> FP16 (value * 2^-14, see the file comment).
template <>
struct Fp4Decoder<QUARTET_FORMAT_NVFP4> {
  static constexpr bool kBf16 = false;
  static constexpr int kBlock = 16;
  // The epilogue multiplies the accumulator by this exact power of two (undoes 2^-14 on each operand).
  static constexpr float kUnscale = 268435456.0f;  // 2^28

  // E4M3 scale byte -> FP16x2 (s, s). The sign bit is ignored, as the Blackwell block-scaled MMAs read the
  // scales as unsigned E4M3 (ue4m3); our quantizers never set it. 0x7F is NaN.
  __device__ __forceinline__ static uint32_t scale_pair(uint32_t byte) {
    const uint32_t b = byte & 0x7Fu;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    uint32_t d;
    const uint16_t two = (uint16_t)(b | (b << 8));
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;\n" : "=r"(d) : "h"(two));  // exact: every E4M3 value is an FP16 normal
    return d;
#else
    // E4M3 bits shifted into FP16 position are the value times 2^-8 (normals and subnormals alike)
    const uint32_t h = b == 0x7Fu ? 0x7E00u : (b << 7);
    return mul_f16x2(h | (h << 16), 0x5C005C00u);  // x 256, exact
#endif
  }
  // The scale pair of byte j (0..3) of a little-endian word of four scale bytes.
  __device__ __forceinline__ static uint32_t scale_pair_of_byte(uint32_t word, int j) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    const uint32_t two = prmt(word, 0u, 0x4400u | (uint32_t)(j * 0x11)) & 0x7F7Fu;  // (b_j, b_j), sign cleared
    uint32_t d;
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;\n" : "=r"(d) : "h"((uint16_t)two));
    return d;
#else
    return scale_pair((word >> (8 * j)) & 0xFFu);
#endif
  }
  // Eight codes -> four FP16x2 pairs (order in the file comment), times the scale pair.
  __device__ __forceinline__ static void decode(uint32_t w, uint32_t sp, uint32_t (&out)[4]) {
    // Per byte: the FP16 high byte of (code value) * 2^-14: the sign in bit 7 and the code's magnitude bits
    // (e1 e0 m) in bits 3..1, i.e. the two low exponent bits and the mantissa msb (code 1 = the subnormal
    // 2^-15); the low byte of such an FP16 is always 0.
    const uint32_t even = ((w << 1) & 0x0E0E0E0Eu) | ((w << 4) & 0x80808080u);  // e0, e2, e4, e6
    const uint32_t odd = ((w >> 3) & 0x0E0E0E0Eu) | (w & 0x80808080u);         // e1, e3, e5, e7
    out[0] = mul_f16x2(prmt(even, 0u, 0x2404u), sp);  // bytes (0, even.0, 0, even.2) = (e0, e4)
    out[1] = mul_f16x2(prmt(even, 0u, 0x3414u), sp);  // (e2, e6)
    out[2] = mul_f16x2(prmt(odd, 0u, 0x2404u), sp);   // (e1, e5)
    out[3] = mul_f16x2(prmt(odd, 0u, 0x3414u), sp);   // (e3, e7)
  }
};

// MXFP4 -> BF16 (exact values).
template <>
struct Fp4Decoder<QUARTET_FORMAT_MXFP4> {
  static constexpr bool kBf16 = true;
  static constexpr int kBlock = 32;
  static constexpr float kUnscale = 1.0f;

  // E8M0 scale byte -> BF16x2 (s, s): 2^(c-127); c = 0 is the BF16 subnormal 2^-127, 0xFF is NaN.
  __device__ __forceinline__ static uint32_t scale_pair(uint32_t byte) {
    const uint32_t c = byte & 0xFFu;
    const uint32_t h = c == 0u ? 0x0040u : c == 0xFFu ? 0x7FC0u : (c << 7);
    return h | (h << 16);
  }
  __device__ __forceinline__ static uint32_t scale_pair_of_byte(uint32_t word, int j) {
    return scale_pair((word >> (8 * j)) & 0xFFu);
  }
  __device__ __forceinline__ static void decode(uint32_t w, uint32_t sp, uint32_t (&out)[4]) {
    // (e_i, e_{i+4}) as two nibbles at bits 0 and 16; x * 0x1040 copies each nibble to bits 6 and 12
    // (no overlap), and the mask keeps the magnitude at bits 8..6 and the sign at bit 15: the BF16 of
    // (code value) * 2^-126, exact (0.5 becomes the subnormal 2^-127).
    constexpr uint32_t kTwo126 = 0x7E807E80u;  // BF16x2 (2^126, 2^126)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int i = j == 0 ? 0 : j == 1 ? 2 : j == 2 ? 1 : 3;  // same pair order as the NVFP4 decoder
      const uint32_t x = (w >> (4 * i)) & 0x000F000Fu;
      const uint32_t v = (x * 0x1040u) & 0x81C081C0u;
      out[j] = mul_bf16x2(mul_bf16x2(v, kTwo126), sp);
    }
  }
};

// Byte offset of scale (r, c) in a linear [rows, scale_cols] or 128x4-swizzled scale buffer (§3.5).
__device__ __forceinline__ int64_t scale_offset(bool swizzled, int64_t r, int64_t c, int64_t scale_cols) {
  return swizzled ? swizzle_offset(r, c, scale_cols) : r * scale_cols + c;
}

// ---- epilogue --------------------------------------------------------------------------------------------

// fl(fl(gA * gB) * alpha) from device memory (NULL = 1), no host synchronization.
__device__ __forceinline__ float effective_alpha(const float* ga, const float* gb, float alpha) {
  const float a = ga ? *ga : 1.0f, b = gb ? *gb : 1.0f;
  return __fmul_rn(__fmul_rn(a, b), alpha);
}

struct OutSpec {
  void* out;
  int64_t m, n;        // out is [m, n] row-major
  int32_t out_bf16;    // else F32
  int32_t accumulate;  // F32 only: out += y
  int32_t paired;      // out aligned for 2-element stores and n even
};

// y = fl(fl(acc * unscale) * mult) for (row, col) and (row, col + 1); stores what lies inside [m, n].
// unscale is a power of two, so the first product is exact.
__device__ __forceinline__ void store_pair(const OutSpec& o, int64_t row, int64_t col, float v0, float v1,
                                           float unscale, float mult) {
  if (row >= o.m || col >= o.n) return;
  const bool has1 = col + 1 < o.n;
  const int64_t idx = row * o.n + col;
  const float y0 = __fmul_rn(__fmul_rn(v0, unscale), mult), y1 = __fmul_rn(__fmul_rn(v1, unscale), mult);
  if (o.out_bf16) {
    uint16_t* p = (uint16_t*)o.out + idx;
    if (has1 && o.paired) {
      *(uint32_t*)p = (uint32_t)f32_to_bf16(y0) | ((uint32_t)f32_to_bf16(y1) << 16);
    } else {
      p[0] = f32_to_bf16(y0);
      if (has1) p[1] = f32_to_bf16(y1);
    }
  } else {
    float* p = (float*)o.out + idx;
    if (has1 && o.paired) {
      float2 v = make_float2(y0, y1);
      if (o.accumulate) {
        const float2 old = *(const float2*)p;
        v.x = __fadd_rn(old.x, y0);
        v.y = __fadd_rn(old.y, y1);
      }
      *(float2*)p = v;
    } else {
      p[0] = o.accumulate ? __fadd_rn(p[0], y0) : y0;
      if (has1) p[1] = o.accumulate ? __fadd_rn(p[1], y1) : y1;
    }
  }
}

}  // namespace tiles
}  // namespace cuda
}  // namespace quartet
