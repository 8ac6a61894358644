/*
 * model_numerics.h — the scalar arithmetic of the model ops (numerics.md §7) that the CPU and CUDA backends
 * share: exp and log built from +, *, / and exact bit operations only, and the fixed reduction orders of
 * the row sums. Like numerics.h, every function is QHD: the CPU loops and the CUDA kernels run the same
 * code on the same values, so embedding, RMSNorm, RoPE, SwiGLU, the residual add and the cross-entropy
 * agree bit for bit between the backends (libm's expf and CUDA's expf differ in the last bits; these do
 * not). Only attention differs: its GEMMs run on tensor cores on the GPU.
 */
#ifndef QUARTET_MODEL_NUMERICS_H
#define QUARTET_MODEL_NUMERICS_H

#include "core/numerics.h"

namespace quartet {

/* e^x in binary32, within ~2 ulp of the correctly rounded value for every finite x (tested against float64).
 * Range reduction x = n ln2 + r with ln2 split Cody-Waite style (n * LN2_HI is exact for |n| < 2^9), |r| <=
 * ln2/2, then the degree-8 Taylor polynomial of e^r in Horner form (truncation error < 2^-30). The result
 * p * 2^n is formed by exact power-of-two multiplications; below 2^-126 in two steps so that it rounds
 * once (gradual underflow, no flush to zero). */
QHD float exp_f32(float x) {
  if (!(x == x)) return x;                      /* NaN */
  if (x > 88.72283935546875f) return u2f(0x7F800000u);  /* above log(FLT_MAX): +inf */
  if (x < -103.97208404541016f) return 0.0f;    /* below log(2^-150): rounds to 0 */
  const float kLog2e = 1.44269502162933349609375f;
  const float kLn2Hi = 0.693145751953125f;      /* 0x3F317200: 16 trailing zero bits */
  const float kLn2Lo = 1.428606765330187045e-06f;
  float t = x * kLog2e;
  float nf = floorf(t + 0.5f);
  int n = (int)nf;
  float r = (x - nf * kLn2Hi) - nf * kLn2Lo;
  float p = 1.0f / 40320.0f;
  p = p * r + 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  if (n > 127) return (p * pow2i(127)) * pow2i(n - 127);
  if (n < -126) return (p * pow2i(n + 64)) * pow2i(-64);
  return p * pow2i(n);
}

/* ln x in binary32 for finite x > 0 (x <= 0 -> -inf or NaN as libm), within ~2 ulp. x = 2^e m with
 * m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.1716, by its odd series to s^13. */
QHD float log_f32(float x) {
  if (!(x > 0.0f)) return x == 0.0f ? -u2f(0x7F800000u) : u2f(0x7FC00000u);
  if (!is_finite(x)) return x;
  uint32_t u = f2u(x);
  int e = 0;
  if ((u & 0x7F800000u) == 0) { /* subnormal: scale into the normal range first */
    x = x * pow2i(64);
    u = f2u(x);
    e = -64;
  }
  e += (int)((u >> 23) & 0xFF) - 127;
  float m = u2f((u & 0x007FFFFFu) | 0x3F800000u); /* [1, 2) */
  if (m > 1.41421353816986083984375f) {
    m = m * 0.5f;
    e += 1;
  }
  float s = (m - 1.0f) / (m + 1.0f);
  float z = s * s;
  float q = 1.0f / 13.0f;
  q = q * z + 1.0f / 11.0f;
  q = q * z + 1.0f / 9.0f;
  q = q * z + 1.0f / 7.0f;
  q = q * z + 1.0f / 5.0f;
  q = q * z + 1.0f / 3.0f;
  float lnm = (2.0f * s) + (2.0f * s) * (z * q);
  const float kLn2Hi = 0.693145751953125f, kLn2Lo = 1.428606765330187045e-06f;
  float ef = (float)e;
  return (ef * kLn2Hi + lnm) + ef * kLn2Lo;
}

/* sigmoid as the SwiGLU MLP uses it (silu(g) = g * sigmoid(g)): 1 / (1 + e^-g) for g >= 0 and e^g / (1 + e^g)
 * below, so that e^-g never overflows and small values keep their relative accuracy. */
QHD float sigmoid_f32(float g) {
  if (g >= 0.0f) return 1.0f / (1.0f + exp_f32(-g));
  const float e = exp_f32(g);
  return e / (1.0f + e);
}

/* ---- fixed reduction orders -------------------------------------------------------------------------
 * A row sum is split into L strided partial sums (partial l adds elements l, l + L, l + 2L, ... in
 * increasing order), which are then combined by the xor butterfly a CUDA warp computes with
 * __shfl_xor_sync (offsets L/2, ..., 2, 1 within a warp of 32; for a block of W warps the warp results are
 * combined by the same butterfly over the warp index). Float addition is commutative, so every lane ends
 * with the same value; the CPU reproduces it exactly with butterfly_sum below. */

/* The value every lane holds after the xor butterfly over v[0..n), n a power of two; destroys v. */
template <int N>
QHD float butterfly_sum(float* v) {
  for (int off = N / 2; off >= 1; off /= 2) {
    for (int l = 0; l < N; ++l)
      if ((l & off) == 0) {
        float s = v[l] + v[l ^ off];
        v[l] = s;
        v[l ^ off] = s;
      }
  }
  return v[0];
}

constexpr int kRowLanes = 32;        /* RMSNorm rows: one warp per row */
constexpr int kCeThreads = 256;      /* cross-entropy rows: one block of 8 warps per row */
constexpr int kNormPartialRows = 128;/* RMSNorm weight gradient: rows per partial sum (scratch rows) */

/* The cross-entropy block order: 256 strided partials, butterfly within each warp of 32, then over the 8 warps. */
QHD float block_sum256(float* v) {
  float w[8];
  for (int k = 0; k < 8; ++k) w[k] = butterfly_sum<32>(v + 32 * k);
  return butterfly_sum<8>(w);
}

}  // namespace quartet

#endif /* QUARTET_MODEL_NUMERICS_H */
