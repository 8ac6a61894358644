// gemm_ops.cpp — cpu::gemm (dense F32/BF16, BLAS semantics) and cpu::gemm_fp4 (block-scaled NVFP4/MXFP4, TN).
//
// Both run on the blocked FP32 driver of gemm_blocked.h; this file only says how operand values are made
// (strided F32/BF16 loads, or exact FP4 decoding) and what happens to a finished accumulator.
//
// Error bound (contract §3, asserted by the tests). Let S = sum_k a_k b_k be the exact dot product of one
// output element over the K-long contraction, P = sum_k |a_k b_k|, u = 2^-24, gamma_j = j u / (1 - j u).
// The accumulator is one FP32 value updated once per k in increasing k (FMA on AVX2/AVX-512, multiply then
// add on the portable kernel), so |acc - S| <= gamma_K P.
//  - gemm_fp4: operand values q * s are exact in FP32 (an E2M1 value has <= 2 significant bits, an E4M3 scale
//    <= 4, an E8M0 scale is a power of two), so acc is the FP32 sum of exact products. The tensor scales
//    are applied once to the accumulator, as on the GPU: alpha_t = fl(fl(gA * gB) * alpha) and
//    Y = fl(alpha_t * acc), hence  |Y - alpha_t S| <= gamma_{K+1} |alpha_t| P.
//    With accumulate = 1, out = fl(out_old + Y) adds one more rounding: <= u |out_old + Y|.
//  - gemm: C = fl(fl(alpha * acc) + fl(beta * C_old)) (the second term only when beta != 0), hence
//    |C - (alpha S + beta C_old)| <= gamma_{K+2} (|alpha| P + |beta C_old|).
//  - A BF16 output adds the final rounding to BF16: <= 2^-8 |value| (round to nearest even).
// Results do not depend on the thread count (each output is summed in the same order by one thread).
#include <stdint.h>

#include "core/numerics.h"
#include "core/ops.h"
#include "core/status.h"
#include "cpu/cpu_common.h"
#include "cpu/gemm_blocked.h"
#include "cpu/gemm_pack.h"

namespace quartet {
namespace cpu {
namespace {

// ---- dense operands -----------------------------------------------------------------------------------

// A logical [rows, k] matrix inside F32 or BF16 storage: element (i, kk) at base[i * row_stride + kk * k_stride].
// One of the two strides is 1 (the storage is row-major, possibly transposed); pack relies on
// k_stride != 1 implying row_stride == 1, which cpu::gemm guarantees.
struct DenseSource final : PanelSource {
  const void* base;
  bool bf16;
  int64_t row_stride, k_stride;

  DenseSource(const void* base_, int32_t dtype, int64_t row_stride_, int64_t k_stride_)
      : base(base_), bf16(dtype == QUARTET_DTYPE_BF16), row_stride(row_stride_), k_stride(k_stride_) {}

  void pack(int64_t r0, int64_t nrows, int64_t k0, int64_t kc, int64_t width, float* dst) const override {
    if (bf16) pack_typed((const uint16_t*)base, r0, nrows, k0, kc, width, dst);
    else pack_typed((const float*)base, r0, nrows, k0, kc, width, dst);
  }

 private:
  static float widen(float v) { return v; }
  static float widen(uint16_t v) { return bf16_to_f32(v); }

  template <class T>
  void pack_typed(const T* x, int64_t r0, int64_t nrows, int64_t k0, int64_t kc, int64_t width, float* dst) const {
    if (k_stride == 1) {
      // Rows run along k: widen (BF16) into a small row buffer if needed, then transpose into the panel.
      float widened[kRowGroup * PanelSource::kMaxK];
      const float* rows[kRowGroup];
      for (int64_t g = 0; g < nrows; g += kRowGroup) {
        const int64_t count = nrows - g < kRowGroup ? nrows - g : kRowGroup;
        for (int64_t r = 0; r < count; ++r) {
          const T* row = x + (r0 + g + r) * row_stride + k0;
          rows[r] = widen_row(row, kc, widened + r * PanelSource::kMaxK);
        }
        interleave_rows(rows, count, kc, width, dst + g);
      }
    } else {
      // Consecutive rows are adjacent in memory (row_stride == 1): each k is one contiguous run.
      for (int64_t kk = 0; kk < kc; ++kk) {
        const T* col = x + (k0 + kk) * k_stride + r0;
        float* d = dst + kk * width;
        for (int64_t r = 0; r < nrows; ++r) d[r] = widen(col[r]);
      }
    }
    zero_panel_rows(nrows, kc, width, dst);
  }

  static constexpr int64_t kRowGroup = 8;
  // FP32 rows are used in place; BF16 rows are widened (exactly) into `buf`.
  static const float* widen_row(const float* row, int64_t, float*) { return row; }
  static const float* widen_row(const uint16_t* row, int64_t n, float* buf) {
    for (int64_t i = 0; i < n; ++i) buf[i] = bf16_to_f32(row[i]);
    return buf;
  }
};

// C = alpha * acc + beta * C, row-major with leading dimension ldc. beta == 0 never reads C.
struct DenseEpilogue final : TileEpilogue {
  float alpha, beta;
  void* c;
  int64_t ldc;
  bool bf16;

  DenseEpilogue(float alpha_, float beta_, void* c_, int64_t ldc_, int32_t dtype)
      : alpha(alpha_), beta(beta_), c(c_), ldc(ldc_), bf16(dtype == QUARTET_DTYPE_BF16) {}

  void store(int64_t i0, int64_t j0, int64_t mi, int64_t nj, const float* acc, int64_t ldacc) const override {
    for (int64_t i = 0; i < mi; ++i) {
      const float* a = acc + i * ldacc;
      int64_t off = (i0 + i) * ldc + j0;
      if (bf16) {
        uint16_t* row = (uint16_t*)c + off;
        for (int64_t j = 0; j < nj; ++j) {
          float v = alpha * a[j];
          if (beta != 0.0f) v = v + beta * bf16_to_f32(row[j]);
          row[j] = f32_to_bf16(v);
        }
      } else {
        float* row = (float*)c + off;
        if (beta != 0.0f) {
          for (int64_t j = 0; j < nj; ++j) row[j] = alpha * a[j] + beta * row[j];
        } else {
          for (int64_t j = 0; j < nj; ++j) row[j] = alpha * a[j];
        }
      }
    }
  }
};

// ---- FP4 operands -------------------------------------------------------------------------------------

// Decode tables built from numerics.h: the two E2M1 values of every code byte (low nibble first, §1.1;
// one table load per byte halves the decode time) and the 256 scale values of each scale format.
struct Fp4Tables {
  float e2m1_pair[256][2];
  float e4m3[256];
  float e8m0[256];
  Fp4Tables() {
    for (uint32_t c = 0; c < 256; ++c) {
      e2m1_pair[c][0] = e2m1_value(c & 15u);
      e2m1_pair[c][1] = e2m1_value(c >> 4);
      e4m3[c] = e4m3_value(c);
      e8m0[c] = e8m0_value(c);
    }
  }
};

const Fp4Tables& fp4_tables() {
  static const Fp4Tables tables;
  return tables;
}

// A quantized [rows, k] operand: codes [rows, k/2] (element 2j in the low nibble) and one scale per block
// of `block` elements along k, linear or 128x4-swizzled. Values are q * s, exact in FP32 (§3.1, §3.6); the
// tensor scale is not applied here (it multiplies the accumulator once, see the epilogue).
struct Fp4Source final : PanelSource {
  const uint8_t* codes;
  const uint8_t* scales;
  ScalePlacement placement;
  int64_t k;
  int64_t block;
  const float* scale_value;  // 256-entry table for the format's scale type
  const float (*e2m1_pair)[2];

  Fp4Source(int32_t format, const uint8_t* codes_, const uint8_t* scales_, int64_t k_, int32_t layout)
      : codes(codes_),
        scales(scales_),
        placement(scale_placement(k_ / block_size(format), layout)),
        k(k_),
        block(block_size(format)),
        scale_value(format == QUARTET_FORMAT_MXFP4 ? fp4_tables().e8m0 : fp4_tables().e4m3),
        e2m1_pair(fp4_tables().e2m1_pair) {}

  void pack(int64_t r0, int64_t nrows, int64_t k0, int64_t kc, int64_t width, float* dst) const override {
    // k0 is a multiple of 32 and kc a multiple of the block except at the end of k, which is itself a
    // multiple of the block (PanelSource guarantees): every k block covers whole scale blocks.
    float decoded[kRowGroup * PanelSource::kMaxK];
    const float* rows[kRowGroup];
    for (int64_t g = 0; g < nrows; g += kRowGroup) {
      const int64_t count = nrows - g < kRowGroup ? nrows - g : kRowGroup;
      for (int64_t r = 0; r < count; ++r) {
        decode_row(r0 + g + r, k0, kc, decoded + r * PanelSource::kMaxK);
        rows[r] = decoded + r * PanelSource::kMaxK;
      }
      interleave_rows(rows, count, kc, width, dst + g);
    }
    zero_panel_rows(nrows, kc, width, dst);
  }

 private:
  static constexpr int64_t kRowGroup = 8;

  // out[kk] = q[row, k0 + kk] * s[row, block of k0 + kk]: an exact product (one rounding-free multiply).
  void decode_row(int64_t row, int64_t k0, int64_t kc, float* out) const {
    const uint8_t* q = codes + row * (k / 2) + k0 / 2;
    const int64_t first_block = k0 / block, nblocks = kc / block, half = block / 2;
    for (int64_t b = 0; b < nblocks; ++b) {
      const float s = scale_value[scales[placement.offset(row, first_block + b)]];
      for (int64_t j = 0; j < half; ++j) {
        const float* pair = e2m1_pair[q[j]];
        out[2 * j] = pair[0] * s;
        out[2 * j + 1] = pair[1] * s;
      }
      q += half;
      out += block;
    }
  }
};

// Y = fl(alpha_total * acc), stored to F32 or BF16 [m, n]; with `accumulate`, out = fl(out + Y) (F32 only).
struct Fp4Epilogue final : TileEpilogue {
  float alpha_total;
  void* out;
  int64_t n;
  bool bf16, accumulate;

  Fp4Epilogue(float alpha_total_, void* out_, int64_t n_, int32_t dtype, bool accumulate_)
      : alpha_total(alpha_total_), out(out_), n(n_), bf16(dtype == QUARTET_DTYPE_BF16), accumulate(accumulate_) {}

  void store(int64_t i0, int64_t j0, int64_t mi, int64_t nj, const float* acc, int64_t ldacc) const override {
    for (int64_t i = 0; i < mi; ++i) {
      const float* a = acc + i * ldacc;
      const int64_t off = (i0 + i) * n + j0;
      if (bf16) {
        uint16_t* row = (uint16_t*)out + off;
        for (int64_t j = 0; j < nj; ++j) row[j] = f32_to_bf16(alpha_total * a[j]);
      } else if (accumulate) {
        float* row = (float*)out + off;
        for (int64_t j = 0; j < nj; ++j) row[j] = row[j] + alpha_total * a[j];
      } else {
        float* row = (float*)out + off;
        for (int64_t j = 0; j < nj; ++j) row[j] = alpha_total * a[j];
      }
    }
  }
};

}  // namespace

int32_t gemm_fp4(const Fp4GemmArgs& g) {
  // Tensor scales live in host memory on this backend; NULL means 1 (MXFP4 always passes NULL).
  const float ga = g.a_tensor_scale ? *g.a_tensor_scale : 1.0f;
  const float gb = g.b_tensor_scale ? *g.b_tensor_scale : 1.0f;
  const float ab = ga * gb;
  const float alpha_total = ab * g.alpha;
  Fp4Source a(g.format, g.a_codes, g.a_scales, g.k, g.scale_layout);
  Fp4Source b(g.format, g.b_codes, g.b_scales, g.k, g.scale_layout);
  Fp4Epilogue out(alpha_total, g.out, g.n, g.out_dtype, g.accumulate);
  if (!blocked_gemm(g.m, g.n, g.k, a, b, out))
    return fail(QUARTET_ERR_OUT_OF_MEMORY, "quartet_gemm_fp4", "cannot allocate CPU GEMM scratch memory");
  return QUARTET_OK;
}

int32_t gemm(const GemmArgs& g) {
  // op(A)[i, kk] = trans_a ? A[kk, i] : A[i, kk];  op(B)[kk, j] = trans_b ? B[j, kk] : B[kk, j].
  // The driver reads B as the [n, k] matrix op(B)^T.
  DenseSource a(g.a, g.ab_dtype, g.trans_a ? 1 : g.lda, g.trans_a ? g.lda : 1);
  DenseSource b(g.b, g.ab_dtype, g.trans_b ? g.ldb : 1, g.trans_b ? 1 : g.ldb);
  DenseEpilogue out(g.alpha, g.beta, g.c, g.ldc, g.c_dtype);
  if (!blocked_gemm(g.m, g.n, g.k, a, b, out))
    return fail(QUARTET_ERR_OUT_OF_MEMORY, "quartet_gemm", "cannot allocate CPU GEMM scratch memory");
  return QUARTET_OK;
}

}  // namespace cpu
}  // namespace quartet
