/*
 * numerics.h — the scalar and block-level arithmetic of numerics.md, written once for every backend.
 *
 * Every function here is `QHD`: a plain inline function on the host and a __host__ __device__ one under
 * nvcc. The CPU reference loops and the CUDA kernels call the very same code on the same values, which is
 * what makes their bytes identical (contract §3). The rules that keep it so:
 *  - IEEE binary32, round-to-nearest-even, no FMA contraction (host: -ffp-contract=off; CUDA: --fmad=false
 *    on every file that includes this header), IEEE division and square root, no flush-to-zero;
 *  - every sum over a group is the pairwise tree PSUM of §0;
 *  - randomness is Philox4x32-10 indexed by logical position (§2), never by thread.
 */
#ifndef QUARTET_NUMERICS_H
#define QUARTET_NUMERICS_H

#include <stdint.h>
#include <string.h>
#include <math.h>

#if defined(__CUDACC__)
#define QHD __host__ __device__ __forceinline__
#define QUARTET_UNROLL _Pragma("unroll")
#else
#define QHD static inline
#define QUARTET_UNROLL
#endif

namespace quartet {

/* ---- bit access ----------------------------------------------------------------------------------- */

QHD uint32_t f2u(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
#endif
}
QHD float u2f(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, 4);
  return f;
#endif
}

/* 2^e as float32 for e in [-126, 127] (exact, built from the exponent bits). */
QHD float pow2i(int e) { return u2f((uint32_t)(e + 127) << 23); }

/* floor(log2 a) for a positive finite float, from the exponent bits (subnormals handled exactly). */
QHD int floor_log2(float a) {
  uint32_t u = f2u(a) & 0x7FFFFFFFu;
  int ef = (int)(u >> 23);
  if (ef != 0) return ef - 127;
  /* subnormal: value = mant * 2^-149 */
  int msb = 31;
  while (msb > 0 && !((u >> msb) & 1u)) --msb;
  return msb - 149;
}

QHD bool is_finite(float x) { return (f2u(x) & 0x7F800000u) != 0x7F800000u; }
QHD float fabs_bits(float x) {
#if defined(__CUDA_ARCH__)
  return fabsf(x); /* clears the sign bit too, and folds into the consuming instruction as an operand modifier */
#else
  return u2f(f2u(x) & 0x7FFFFFFFu);
#endif
}
QHD float fmax_exact(float a, float b) { /* inputs non-negative, non-NaN: then both forms are the exact max */
#if defined(__CUDA_ARCH__)
  return fmaxf(a, b); /* one FMNMX instead of a compare and a select */
#else
  return a > b ? a : b;
#endif
}

/* clamp(fl(a - b), 0, 1) for non-NaN results (the CUDA form is one saturating subtraction). */
QHD float sub_sat(float a, float b) {
#if defined(__CUDA_ARCH__)
  float r;
  asm("sub.rn.sat.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
#else
  float r = a - b;
  return r < 0.0f ? 0.0f : (r > 1.0f ? 1.0f : r);
#endif
}

/* ---- float32 constants of §1.5 (bit patterns, never recomputed) ----------------------------------- */

#define QUARTET_C128 (quartet::u2f(0x3DB504F3u))     /* 1/sqrt(128) */
#define QUARTET_C32 (quartet::u2f(0x3E3504F3u))      /* 1/sqrt(32)  */
#define QUARTET_C16 (0.25f)                          /* 1/sqrt(16)  */
#define QUARTET_V_SR (quartet::u2f(0x40B4B4B5u))     /* 96/17       */
#define QUARTET_V_SR4 (quartet::u2f(0x4070F0F1u))    /* 64/17 = 4 * 16/17 (SR 4/6 candidate) */
#define QUARTET_V_ED (quartet::u2f(0x40C24EB2u))     /* 6*16/17/0.93 */
#define QUARTET_K_RTN (2688.0f)                      /* 6 * 448 */
#define QUARTET_K_46 (1536.0f)                       /* 6 * 256 */
#define QUARTET_K_SR (quartet::u2f(0x451E1E1Eu))     /* V_SR * 448 */
#define QUARTET_K_ED (quartet::u2f(0x44C24EB2u))     /* V_ED * 256 */
#define QUARTET_C_QUEST (quartet::u2f(0x3EF96285u))  /* 2.92247856 / 6 */
#define QUARTET_EPS_QUEST (quartet::u2f(0x322BCC77u)) /* 1e-8 */

QHD float hadamard_norm(int d) { return d == 128 ? QUARTET_C128 : d == 32 ? QUARTET_C32 : QUARTET_C16; }

/* ---- BF16 (§1.4) ---------------------------------------------------------------------------------- */

QHD float bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }
QHD uint16_t f32_to_bf16(float f) {
  uint32_t u = f2u(f);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu)) return (uint16_t)((u >> 16) | 0x40u); /* NaN */
  uint32_t lsb = (u >> 16) & 1u;
  return (uint16_t)((u + 0x7FFFu + lsb) >> 16);
}
QHD float round_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }

/* ---- E2M1 (§1.1) ---------------------------------------------------------------------------------- */

QHD float e2m1_value(uint32_t code) {
#if defined(__CUDA_ARCH__)
  /* the two high bytes of the float from two 8-entry byte tables (PRMT), then the sign: the same bits as the
   * host form below for all 16 codes */
  const uint32_t m = code & 7u;
  const uint32_t hi = __byte_perm(0x3F3F3F00u, 0x40404040u, m);
  const uint32_t lo = __byte_perm(0xC0800000u, 0xC0804000u, m);
  return u2f(__byte_perm(lo, hi, 0x4011u) | ((code & 8u) << 28)); /* bytes: 0, 0, lo, hi */
#else
  /* magnitudes 0, .5, 1, 1.5, 2, 3, 4, 6 built from the bits, branch-free (random codes defeat a
   * predictor): codes 2..7 are (1 + m/2) * 2^(e-1), i.e. float exponent e + 126 and mantissa bit 22 = m;
   * code 1 is 0.5 and code 0 is 0; the sign bit 8 becomes the float sign (code 8 is -0). */
  uint32_t e = (code >> 1) & 3u, m = code & 1u;
  uint32_t mag = e ? ((e + 126u) << 23) | (m << 22) : (m ? 0x3F000000u : 0u);
  return u2f(mag | ((code & 8u) << 28));
#endif
}

/* The interval boundaries of RNE_E2M1 (§1.1) as strict lower bounds, times 2^26: magnitude code m >= k iff
 * |v| > T_k. Where a tie goes up ('>=' 0.75, 1.75, 3.5) the bound is the float just below the tie point. */
#define QUARTET_E2M1_T1 (16777216.0f)   /* 0.25 * 2^26                 */
#define QUARTET_E2M1_T2 (50331644.0f)   /* (0.75 - 2^-24) * 2^26       */
#define QUARTET_E2M1_T3 (83886080.0f)   /* 1.25 * 2^26                 */
#define QUARTET_E2M1_T4 (117440504.0f)  /* (1.75 - 2^-23) * 2^26       */
#define QUARTET_E2M1_T5 (167772160.0f)  /* 2.5 * 2^26                  */
#define QUARTET_E2M1_T6 (234881008.0f)  /* (3.5 - 2^-22) * 2^26        */
#define QUARTET_E2M1_T7 (335544320.0f)  /* 5 * 2^26                    */

/* Magnitude code (0..7) of a non-negative w = |v| * 2^26 (exact, or +inf), as 2^23 + m in float: each term
 * sub_sat(w, T_k) is exactly [w > T_k], because two distinct floats >= 2^24 differ by at least 2. All sums
 * are small integers, so every step is exact. Arithmetic only (no compares): cheap on GPUs and vectorizable. */
QHD float e2m1_magnitude_count(float w) {
  float m = 8388608.0f + sub_sat(w, QUARTET_E2M1_T1);
  m = m + sub_sat(w, QUARTET_E2M1_T2);
  m = m + sub_sat(w, QUARTET_E2M1_T3);
  m = m + sub_sat(w, QUARTET_E2M1_T4);
  m = m + sub_sat(w, QUARTET_E2M1_T5);
  m = m + sub_sat(w, QUARTET_E2M1_T6);
  return m + sub_sat(w, QUARTET_E2M1_T7);
}

/* RNE_E2M1: ties to the even code, saturating, sign from the IEEE sign bit; NaN -> 0x7. */
QHD uint32_t e2m1_rne(float v) {
  uint32_t u = f2u(v);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 7u;
  /* magnitude code = number of interval boundaries |v| lies above (strict '>' where the tie goes down to the
   * even code, '>=' where it goes up), counted exactly by e2m1_magnitude_count on |v| * 2^26 (exact: a power
   * of two; +inf for |v| >= 2^102, which counts as above every boundary) */
  const float w = fabs_bits(v) * 67108864.0f;
  return ((u >> 28) & 8u) | (f2u(e2m1_magnitude_count(w)) - 0x4B000000u);
}

/* Code of an exactly representable E2M1 magnitude (0, .5, ..., 6) with a sign bit. */
QHD uint32_t e2m1_code_of_exact(float mag, uint32_t sign) {
  /* the code is the number of grid values 0.5 .. 6 at or below mag (branch-free: SR feeds random values) */
  uint32_t m = (uint32_t)(mag >= 0.5f) + (uint32_t)(mag >= 1.0f) + (uint32_t)(mag >= 1.5f) + (uint32_t)(mag >= 2.0f) +
               (uint32_t)(mag >= 3.0f) + (uint32_t)(mag >= 4.0f) + (uint32_t)(mag >= 6.0f);
  return sign | m;
}

/* SR_E2M1 (§5.4): rounds |v| up with probability frac, decided by u24 < frac * 2^24 (exact). */
QHD uint32_t e2m1_sr(float v, uint32_t u24) {
  uint32_t u = f2u(v);
  uint32_t sign = (u >> 28) & 8u;
  float a = u2f(u & 0x7FFFFFFFu);
  if (!(a < 6.0f)) return sign | 7u; /* >= 6 (and NaN) saturate */
  float step = a < 2.0f ? 0.5f : (a < 4.0f ? 1.0f : 2.0f);
  float r = a * (a < 2.0f ? 2.0f : (a < 4.0f ? 1.0f : 0.5f)); /* a / step, exact: a power of two (no division) */
  float k = floorf(r);
  float f = r - k;    /* exact */
  float up = (float)u24 < f * 16777216.0f ? 1.0f : 0.0f;
  return e2m1_code_of_exact((k + up) * step, sign);
}

/* ---- E4M3 (§1.2) ---------------------------------------------------------------------------------- */

QHD float e4m3_value(uint32_t code) {
  code &= 0xFFu;
  uint32_t e = (code >> 3) & 15u, m = code & 7u;
  float mag;
  if ((code & 0x7Fu) == 0x7Fu) mag = u2f(0x7FC00000u);
  else if (e == 0) mag = (float)m * pow2i(-9);
  else mag = (float)(8u + m) * pow2i((int)e - 10);
  return (code & 0x80u) ? -mag : mag;
}

/* RNE_SAT_E4M3 for finite c >= 0 (NaN -> 0x7F). */
QHD uint32_t e4m3_rne_sat(float c) {
  if (!(c == c)) return 0x7Fu;
  if (c >= 448.0f) return 0x7Eu;
  if (c < pow2i(-6)) {
    /* subnormal grid: multiples of 2^-9; rintf is round-half-even */
    return (uint32_t)rintf(c * 512.0f); /* 0..8; 8 is the smallest normal 0x08 */
  }
  int e = floor_log2(c);                      /* -6..8 */
  float r = c * pow2i(3 - e);                 /* exact, in [8, 16) */
  uint32_t k = (uint32_t)rintf(r);            /* 8..16 */
  if (k == 16u) { k = 8u; e += 1; }
  uint32_t code = ((uint32_t)(e + 7) << 3) | (k - 8u);
  return code > 0x7Eu ? 0x7Eu : code;
}

/* SR_E4M3 (§5.6) for c >= 0: unbiased between the two neighbouring E4M3 values. */
QHD uint32_t e4m3_sr(float c, uint32_t u24) {
  if (c >= 448.0f) return 0x7Eu;
  const int e = c < pow2i(-6) ? -9 : floor_log2(c) - 3;
  float step = pow2i(e);
  float r = c * pow2i(-e); /* c / step, exact: step is a power of two in [2^-9, 2^5] (no division) */
  float k = floorf(r);
  float f = r - k;
  float up = (float)u24 < f * 16777216.0f ? 1.0f : 0.0f;
  return e4m3_rne_sat((k + up) * step); /* exact value -> its code */
}

/* ---- E8M0 (§1.3) ---------------------------------------------------------------------------------- */

QHD float e8m0_value(uint32_t code) {
  code &= 0xFFu;
  if (code == 0xFFu) return u2f(0x7FC00000u);
  if (code == 0u) return u2f(0x00400000u); /* 2^-127, subnormal */
  return u2f(code << 23);
}

/* ---- Philox4x32-10 (§2) --------------------------------------------------------------------------- */

struct Philox {
  uint32_t key0, key1;
};

QHD void philox4x32_10(const uint32_t in[4], uint32_t k0, uint32_t k1, uint32_t out[4]) {
  uint32_t c0 = in[0], c1 = in[1], c2 = in[2], c3 = in[3];
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c0;
    uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t h0 = (uint32_t)(p0 >> 32), l0 = (uint32_t)p0;
    uint32_t h1 = (uint32_t)(p1 >> 32), l1 = (uint32_t)p1;
    uint32_t n0 = h1 ^ c1 ^ k0, n2 = h0 ^ c3 ^ k1;
    c0 = n0; c1 = l1; c2 = n2; c3 = l0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* The four 32-bit words for logical indices 4q..4q+3 of (seed, step, stream, tag). */
QHD void philox_words(uint32_t seed, uint32_t step, uint32_t stream, uint32_t tag, uint64_t q, uint32_t out[4]) {
  uint32_t ctr[4] = {(uint32_t)q, (uint32_t)(q >> 32), stream, tag};
  philox4x32_10(ctr, seed, step, out);
}

/* u24 of one logical index (a whole Philox call; use philox_words for runs of 4). */
QHD uint32_t philox_u24(uint32_t seed, uint32_t step, uint32_t stream, uint32_t tag, uint64_t i) {
  uint32_t w[4];
  philox_words(seed, step, stream, tag, i >> 2, w);
  return w[i & 3u] >> 8;
}

/* 128 RHT signs of one backward call of one layer: ctr (0, 0, 3, layer_id << 8). */
QHD void rht_signs128(uint32_t seed, uint32_t step, uint32_t layer_id, uint32_t out[4]) {
  uint32_t ctr[4] = {0u, 0u, 3u, layer_id << 8};
  philox4x32_10(ctr, seed, step, out);
}

QHD float rht_sign(const uint32_t signs[4], int j) {
  return ((signs[(j >> 5) & 3] >> (j & 31)) & 1u) ? -1.0f : 1.0f;
}

/* ---- pairwise sums (PSUM of §0) ------------------------------------------------------------------- */

/* In-place pairwise tree sum of n (power of two) values; destroys v. */
template <int N>
QHD float psum(float* v) {
  /* one level of the tree, then the next level by recursion: a compile-time trip count at every level, so
   * the device compiler keeps v in registers (a `w /= 2` loop left it in local memory) */
QUARTET_UNROLL
  for (int i = 0; i < N / 2; ++i) v[i] = v[2 * i] + v[2 * i + 1];
  if constexpr (N > 2) return psum<N / 2>(v);
  else return v[0];
}

/* ---- Walsh-Hadamard (§5.5) ------------------------------------------------------------------------ */

/* In-place RHT-d of d contiguous values: signs, FWHT in natural order, scale by C_d. */
template <int D>
QHD void rht_chunk(float* w, const uint32_t* signs) {
  if (signs) {
QUARTET_UNROLL
    for (int j = 0; j < D; ++j) w[j] = w[j] * rht_sign(signs, j);
  }
  /* butterflies (i, i+h) for every i with (i & h) == 0, i.e. i in [b, b+h) for b a multiple of 2h; written as
   * a branch-free nest so the host compiler vectorizes it (the pairs and their arithmetic are the same). */
QUARTET_UNROLL
  for (int h = 1; h < D; h *= 2) {
QUARTET_UNROLL
    for (int b = 0; b < D; b += 2 * h) {
QUARTET_UNROLL
      for (int i = b; i < b + h; ++i) {
        float p = w[i], q = w[i + h];
        w[i] = p + q;
        w[i + h] = p - q;
      }
    }
  }
  const float c = hadamard_norm(D);
QUARTET_UNROLL
  for (int j = 0; j < D; ++j) w[j] = w[j] * c;
}

/* ---- NVFP4 block quantizers (§3.2, §5) ------------------------------------------------------------- */

/* The tensor scale g = A / K_VM, or 1 for an all-zero tensor (§3.2 step 1). */
QHD float nvfp4_tensor_scale(float amax, float k_vm) { return amax == 0.0f ? 1.0f : amax / k_vm; }

QHD float block_absmax16(const float* x) {
  float a = 0.0f;
QUARTET_UNROLL
  for (int i = 0; i < 16; ++i) a = fmax_exact(a, fabs_bits(x[i]));
  return a;
}

QHD void pack16(const uint32_t* c, uint8_t* out8) {
QUARTET_UNROLL
  for (int j = 0; j < 8; ++j) out8[j] = (uint8_t)(c[2 * j] | (c[2 * j + 1] << 4));
}

QHD void signed_zero_codes16(const float* x, uint32_t* c) {
QUARTET_UNROLL
  for (int i = 0; i < 16; ++i) c[i] = (f2u(x[i]) >> 28) & 8u;
}

/* Block scale of §3.2 step 2: s_b = RNE_SAT_E4M3((a_b / V) / g). */
QHD uint32_t nvfp4_block_scale(float a_b, float v, float g) { return e4m3_rne_sat((a_b / v) / g); }

/* Largest float below p (> 0) when `strict`, else largest float <= p: directed rounding of an exact double. */
QHD float float_below(double p, bool strict) {
  float f = (float)p; /* round to nearest */
  const double back = (double)f;
  if (back > p || (strict && back == p)) f = u2f(f2u(f) - 1u); /* f > 0 here; inf steps down to FLT_MAX */
  return f;
}

/* §3.2 steps 3-4 with RNE elements for a given scale code; returns codes in c. x must be NaN-free (the
 * quantizers reject non-finite input before any block is encoded).
 *
 * The definition is c_i = RNE_E2M1(fl(x_i / D)). Division is monotone, so for each boundary T_k of RNE_E2M1
 * the set of |x| with fl(|x| / D) above it is {|x| > X_k} for one float X_k, found once per block without
 * dividing any element: fl(q) > t for a boundary t that rounds down on a tie (0.25, 1.25, 2.5, 5; all even)
 * iff q > t + ulp/2; fl(q) >= t for t that rounds up on a tie (0.75, 1.75, 3.5; all even) iff
 * q >= t - ulp_below/2. These midpoints times D are exact in double (<= 26 + 24 bits); X_k is that product
 * rounded down to float (strictly below it for the '>=' boundaries). Then m_i = #{k : |x_i| > X_k}, counted
 * like e2m1_magnitude_count after scaling by a power of two S that puts X_1 in [2^25, 2^26): every
 * scaled X_k is exact with float neighbours 4 or more apart, |x| * S is exact unless it is far below X_1
 * (then it counts 0 either way) or overflows (then it is above every X_k either way). Blocks whose X_1 is
 * below 2^-100 (S would not be a float) take the dividing form. The sign is the sign bit of x_i, as that of
 * fl(x_i / D) (D > 0; -0 stays -0). */
QHD void nvfp4_encode_rne16(const float* x, uint32_t s, float g, uint32_t* c) {
  float d = s ? e4m3_value(s) * g : 0.0f;
  if (d == 0.0f) { signed_zero_codes16(x, c); return; }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 1200
  /* consumer Blackwell has little FP64: the dividing form (the definition) is cheaper there */
QUARTET_UNROLL
  for (int i = 0; i < 16; ++i) c[i] = e2m1_rne(x[i] / d);
  return;
#endif
  const double dd = (double)d;
  const float x1 = float_below(0.25000001490116119384765625 * dd, false);  /* (0.25 + 2^-26) D, rounds down   */
  if (!(x1 >= 7.8886090522101181e-31f)) {                                  /* X_1 < 2^-100: divide instead */
QUARTET_UNROLL
    for (int i = 0; i < 16; ++i) c[i] = e2m1_rne(x[i] / d);
    return;
  }
  const float S = pow2i(25 - floor_log2(x1));
  const float t1 = x1 * S;
  const float t2 = float_below(0.749999970197677612304687500 * dd, true) * S;   /* (0.75 - 2^-25) D, tie up */
  const float t3 = float_below(1.250000059604644775390625000 * dd, false) * S;  /* (1.25 + 2^-24) D         */
  const float t4 = float_below(1.749999940395355224609375000 * dd, true) * S;   /* (1.75 - 2^-24) D, tie up */
  const float t5 = float_below(2.500000119209289550781250000 * dd, false) * S;  /* (2.5 + 2^-23) D          */
  const float t6 = float_below(3.499999880790710449218750000 * dd, true) * S;   /* (3.5 - 2^-23) D, tie up  */
  const float t7 = float_below(5.000000238418579101562500000 * dd, false) * S;  /* (5 + 2^-22) D            */
QUARTET_UNROLL
  for (int i = 0; i < 16; ++i) {
    const float w = fabs_bits(x[i]) * S;
    float m = 8388608.0f + sub_sat(w, t1);
    m = m + sub_sat(w, t2);
    m = m + sub_sat(w, t3);
    m = m + sub_sat(w, t4);
    m = m + sub_sat(w, t5);
    m = m + sub_sat(w, t6);
    m = m + sub_sat(w, t7);
    c[i] = ((f2u(x[i]) >> 28) & 8u) | (f2u(m) - 0x4B000000u);
  }
}

/* Same with SR elements: u24[i] is the element's uniform. */
QHD void nvfp4_encode_sr16(const float* x, uint32_t s, float g, const uint32_t* u24, uint32_t* c) {
  float d = s ? e4m3_value(s) * g : 0.0f;
  if (d == 0.0f) { signed_zero_codes16(x, c); return; }
QUARTET_UNROLL
  for (int i = 0; i < 16; ++i) c[i] = e2m1_sr(x[i] / d, u24[i]);
}

/* Squared error of a candidate (§5.3 step 3): PSUM16 of (x - q*s*g)^2. */
QHD float nvfp4_block_sq_error(const float* x, const uint32_t* c, uint32_t s, float g) {
  float sv = e4m3_value(s);
  float t[16];
QUARTET_UNROLL
  for (int i = 0; i < 16; ++i) {
    float dq = (e2m1_value(c[i]) * sv) * g;
    float d = x[i] - dq;
    t[i] = d * d;
  }
  return psum<16>(t);
}

/* RTN block (§5.1 / §5.2 with a given block abs-max a_b). Returns the scale code. */
QHD uint32_t nvfp4_block_rtn(const float* x, float a_b, float g, uint32_t* c) {
  uint32_t s = nvfp4_block_scale(a_b, 6.0f, g);
  nvfp4_encode_rne16(x, s, g, c);
  return s;
}

/* 4/6 block (§5.3): two candidates, keep 4 iff strictly lower squared error. */
QHD uint32_t nvfp4_block_four_six(const float* x, float g, uint32_t* c) {
  float a = block_absmax16(x);
  uint32_t c6[16], c4[16];
  uint32_t s6 = nvfp4_block_scale(a, 6.0f, g);
  uint32_t s4 = nvfp4_block_scale(a, 4.0f, g);
  nvfp4_encode_rne16(x, s6, g, c6);
  nvfp4_encode_rne16(x, s4, g, c4);
  float e6 = nvfp4_block_sq_error(x, c6, s6, g);
  float e4 = nvfp4_block_sq_error(x, c4, s4, g);
  bool four = e4 < e6;
QUARTET_UNROLL
  for (int i = 0; i < 16; ++i) c[i] = four ? c4[i] : c6[i];
  return four ? s4 : s6;
}

/* SR block (§5.4). */
QHD uint32_t nvfp4_block_sr(const float* x, float g, const uint32_t* u24, uint32_t* c) {
  uint32_t s = nvfp4_block_scale(block_absmax16(x), QUARTET_V_SR, g);
  nvfp4_encode_sr16(x, s, g, u24, c);
  return s;
}

/* 4/6 with SR elements (§5.4 ablation): candidates draw from u24a (V = 6*16/17) and u24b (V = 4*16/17).
 * Both grid maxima carry SR's 16/17 no-clip factor (§3.3), as plain SR does; with V = 6 and 4 the
 * relative MSE on N(0,1) is 14.3e-3 instead of the 17.5e-3 of §9.1 (paper and [M]). Tensor scale: g = A / K_46. */
QHD uint32_t nvfp4_block_sr_four_six(const float* x, float g, const uint32_t* u24a, const uint32_t* u24b,
                                     uint32_t* c) {
  float a = block_absmax16(x);
  uint32_t c6[16], c4[16];
  uint32_t s6 = nvfp4_block_scale(a, QUARTET_V_SR, g);
  uint32_t s4 = nvfp4_block_scale(a, QUARTET_V_SR4, g);
  nvfp4_encode_sr16(x, s6, g, u24a, c6);
  nvfp4_encode_sr16(x, s4, g, u24b, c4);
  float e6 = nvfp4_block_sq_error(x, c6, s6, g);
  float e4 = nvfp4_block_sq_error(x, c4, s4, g);
  bool four = e4 < e6;
QUARTET_UNROLL
  for (int i = 0; i < 16; ++i) c[i] = four ? c4[i] : c6[i];
  return four ? s4 : s6;
}

/* EDEN factor S = PSUM16(v^2) / PSUM16(v q) (§5.6 step 4), with q the RNE codes of v. */
QHD float eden_factor16(const float* v, const uint32_t* c) {
  float n[16], d[16];
QUARTET_UNROLL
  for (int i = 0; i < 16; ++i) {
    n[i] = v[i] * v[i];
    d[i] = v[i] * e2m1_value(c[i]);
  }
  float sn = psum<16>(n), sd = psum<16>(d);
  return sd == 0.0f ? 1.0f : sn / sd;
}

/* MS-EDEN variant A block (§5.6 steps 2-5) for rotated y, grid max v_max and tensor scale g. Outputs codes,
 * S and the corrected scale c_b; returns the stored scale SR_E4M3(c_b, u24). A zero block scale (or an
 * underflowing decode scale) stores scale 0 with signed-zero codes. */
QHD uint32_t eden_a_block(const float* y, float v_max, float g, uint32_t u24, uint32_t* c, float* s_out,
                          float* corrected_out) {
  uint32_t s = nvfp4_block_scale(block_absmax16(y), v_max, g);
  float d = s ? e4m3_value(s) * g : 0.0f;
  if (d == 0.0f) {
    signed_zero_codes16(y, c);
    *s_out = 1.0f;
    *corrected_out = 0.0f;
    return 0u;
  }
  float v[16];
QUARTET_UNROLL
  for (int i = 0; i < 16; ++i) {
    v[i] = y[i] / d;
    c[i] = e2m1_rne(v[i]);
  }
  float S = eden_factor16(v, c);
  float cb = e4m3_value(s) * S;
  *s_out = S;
  *corrected_out = cb;
  return e4m3_sr(cb, u24);
}

/* MS-EDEN variant B, kernel 1 (§5.7 steps 1-4): codes and the BF16 pre-scale f_b (returned as float). */
QHD float eden_b_block_prescale(const float* y, uint32_t* c) {
  float p = u2f(f2u(block_absmax16(y) / QUARTET_V_ED) & 0xFFF80000u); /* TRUNC_E8M4 */
  if (p < pow2i(-126)) {
    signed_zero_codes16(y, c);
    return 0.0f;
  }
  float v[16];
QUARTET_UNROLL
  for (int i = 0; i < 16; ++i) {
    v[i] = y[i] / p;
    c[i] = e2m1_rne(v[i]);
  }
  float S = eden_factor16(v, c);
  return round_bf16(p * S);
}

/* MS-EDEN variant B, kernel 2 (§5.7 steps 6-7): g from the tensor's largest pre-scale F, then the scale. */
QHD float eden_b_tensor_scale(float F) { return F == 0.0f ? 1.0f : F / 256.0f; }
QHD uint32_t eden_b_block_scale(float f_b, float F, float g, uint32_t u24) {
  if (F == 0.0f) return 0u;
  return e4m3_sr(f_b / g, u24);
}

/* ---- MXFP4 block quantizers (§4, §5.9, §5.10) ------------------------------------------------------ */

QHD float block_absmax32(const float* x) {
  float a = 0.0f;
QUARTET_UNROLL
  for (int i = 0; i < 32; ++i) a = fmax_exact(a, fabs_bits(x[i]));
  return a;
}

/* E8M0 code for 2^e, clamped to the representable codes 0..254. */
QHD uint32_t e8m0_code_of_exp(int e) {
  int c = e + 127;
  return (uint32_t)(c < 0 ? 0 : c > 254 ? 254 : c);
}

/* OCP rule (§4): scale 2^(floor(log2 amax) - 2), saturating RNE elements. Returns the E8M0 code. */
QHD uint32_t mx_block_ocp(const float* x, uint32_t* c) {
  float a = block_absmax32(x);
  uint32_t code = a == 0.0f ? 0u : e8m0_code_of_exp(floor_log2(a) - 2);
  float X = e8m0_value(code);
QUARTET_UNROLL
  for (int i = 0; i < 32; ++i) c[i] = e2m1_rne(x[i] / X);
  return code;
}

/* QuEST (§5.9 steps 2-6) on an already Hadamard-rotated 32-chunk y. mask bit i = |v_i| < 6. */
QHD uint32_t mx_block_quest(const float* y, uint32_t* c, uint32_t* mask) {
  float t[32];
QUARTET_UNROLL
  for (int i = 0; i < 32; ++i) t[i] = y[i];
  float m1 = psum<32>(t) / 32.0f;
QUARTET_UNROLL
  for (int i = 0; i < 32; ++i) t[i] = y[i] * y[i];
  float m2 = psum<32>(t) / 32.0f;
  float var = m2 - m1 * m1;
  float r = var >= 0.0f ? sqrtf(var) * QUARTET_C_QUEST + QUARTET_EPS_QUEST : 1.0f;
  uint32_t code = (f2u(r) >> 23) & 0xFFu; /* r >= 1e-8 is normal: the biased exponent field */
  float X = e8m0_value(code);
  uint32_t m = 0;
QUARTET_UNROLL
  for (int i = 0; i < 32; ++i) {
    float v = y[i] / X;
    c[i] = e2m1_rne(v);
    m |= (fabs_bits(v) < 6.0f ? 1u : 0u) << i;
  }
  *mask = m;
  return code;
}

/* Range-matched RTN / SR (§5.10): stored scale 2^(e-2), elements of y * 3 * 2^-e. u24 NULL = RTN. */
QHD uint32_t mx_block_range_matched(const float* y, const uint32_t* u24, uint32_t* c) {
  float a = block_absmax32(y);
  if (a == 0.0f) {
QUARTET_UNROLL
    for (int i = 0; i < 32; ++i) c[i] = (f2u(y[i]) >> 28) & 8u;
    return 0u;
  }
  int e = floor_log2(a);
  /* v = fl(y * 3 * 2^-e). The multiplier 3 * 2^-e is not a float32 for e <= -127 (3 * 2^127 overflows, and
   * 0 * inf made NaNs whose sign differed between backends), so tiny blocks (e < -125) first scale y by 2^126
   * (exact: |y| < 2^(e+1) <= 2^-125 and y is a multiple of 2^-149) and then multiply by 3 * 2^(-e-126):
   * one rounding, the same value fl(y * 3 * 2^-e). */
  const bool tiny = e < -125;
  const float pre = tiny ? pow2i(126) : 1.0f;
  const float mul = tiny ? 3.0f * pow2i(-e - 126) : 3.0f * pow2i(-e);
QUARTET_UNROLL
  for (int i = 0; i < 32; ++i) {
    float v = (y[i] * pre) * mul;
    c[i] = u24 ? e2m1_sr(v, u24[i]) : e2m1_rne(v);
  }
  return e8m0_code_of_exp(e - 2);
}

/* ---- 128x4 swizzled scale layout (§3.5) ----------------------------------------------------------- */

QHD int64_t swizzle_offset(int64_t r, int64_t c, int64_t scale_cols) {
  int64_t nct = (scale_cols + 3) / 4;
  return ((r >> 7) * nct + (c >> 2)) * 512 + (r & 31) * 16 + ((r >> 5) & 3) * 4 + (c & 3);
}
QHD int64_t swizzled_bytes(int64_t rows, int64_t scale_cols) {
  return ((rows + 127) / 128) * 128 * ((scale_cols + 3) / 4) * 4;
}

}  // namespace quartet

#endif
