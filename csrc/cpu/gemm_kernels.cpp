// gemm_kernels.cpp — the CPU GEMM micro-kernels (see gemm_kernels.h) and their run-time selection.
//
// The library is compiled for baseline x86-64 (or whatever the host compiler targets); the AVX2 and
// AVX-512 kernels are compiled for their instruction sets through function target attributes and are
// only called after __builtin_cpu_supports says the CPU (and OS) can run them. FMA is used explicitly
// through intrinsics: the global -ffp-contract=off (which the bit-exact quantizers need) stays in force,
// and GEMMs are only required to be close to a float64 reference within the bound stated in gemm_kernels.h.
#include "cpu/gemm_kernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QUARTET_GEMM_X86 1
#endif

namespace quartet {
namespace cpu {
namespace {

// ---- portable kernel: 4 x 8, separate multiply and add, on 4-wide generic vectors ---------------------
// (GCC/Clang vector extensions: SSE on baseline x86-64, NEON on arm64, scalar code elsewhere; 8 accumulator
// vectors + 2 for the B row fit the 16 registers of SSE/NEON without spilling.)

constexpr int kPortableMR = 4, kPortableNR = 8;
typedef float v4f __attribute__((vector_size(16)));

static inline v4f load4(const float* p) {
  v4f v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void store4(float* p, v4f v) { memcpy(p, &v, sizeof v); }

void micro_portable(int64_t kc, const float* a, const float* b, float* c, int64_t ldc) {
  v4f acc[kPortableMR][2];
  for (int r = 0; r < kPortableMR; ++r) {
    acc[r][0] = load4(c + r * ldc);
    acc[r][1] = load4(c + r * ldc + 4);
  }
  for (int64_t k = 0; k < kc; ++k) {
    const v4f b0 = load4(b + k * kPortableNR), b1 = load4(b + k * kPortableNR + 4);
    for (int r = 0; r < kPortableMR; ++r) {
      const float ar = a[k * kPortableMR + r];
      const v4f av = {ar, ar, ar, ar};
      acc[r][0] = acc[r][0] + av * b0;
      acc[r][1] = acc[r][1] + av * b1;
    }
  }
  for (int r = 0; r < kPortableMR; ++r) {
    store4(c + r * ldc, acc[r][0]);
    store4(c + r * ldc + 4, acc[r][1]);
  }
}

#if QUARTET_GEMM_X86

// ---- AVX2 + FMA kernel: 6 x 16 (12 ymm accumulators, 2 for the B row, 1 broadcast) -------------------

constexpr int kAvx2MR = 6, kAvx2NR = 16;

__attribute__((target("avx2,fma"))) void micro_avx2(int64_t kc, const float* a, const float* b, float* c,
                                                    int64_t ldc) {
  __m256 acc[kAvx2MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < kAvx2MR; ++r) {
    acc[r][0] = _mm256_loadu_ps(c + r * ldc);
    acc[r][1] = _mm256_loadu_ps(c + r * ldc + 8);
  }
  for (int64_t k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_loadu_ps(b + k * kAvx2NR), b1 = _mm256_loadu_ps(b + k * kAvx2NR + 8);
#pragma GCC unroll 8
    for (int r = 0; r < kAvx2MR; ++r) {
      __m256 ar = _mm256_broadcast_ss(a + k * kAvx2MR + r);
      acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kAvx2MR; ++r) {
    _mm256_storeu_ps(c + r * ldc, acc[r][0]);
    _mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
  }
}

// ---- AVX-512 kernel: 12 x 32 (24 zmm accumulators, 2 for the B row, broadcasts from memory) ----------

constexpr int kAvx512MR = 12, kAvx512NR = 32;

__attribute__((target("avx512f"))) void micro_avx512(int64_t kc, const float* a, const float* b, float* c,
                                                     int64_t ldc) {
  __m512 acc[kAvx512MR][2];
#pragma GCC unroll 16
  for (int r = 0; r < kAvx512MR; ++r) {
    acc[r][0] = _mm512_loadu_ps(c + r * ldc);
    acc[r][1] = _mm512_loadu_ps(c + r * ldc + 16);
  }
  for (int64_t k = 0; k < kc; ++k) {
    __m512 b0 = _mm512_loadu_ps(b + k * kAvx512NR), b1 = _mm512_loadu_ps(b + k * kAvx512NR + 16);
#pragma GCC unroll 16
    for (int r = 0; r < kAvx512MR; ++r) {
      __m512 ar = _mm512_set1_ps(a[k * kAvx512MR + r]);
      acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < kAvx512MR; ++r) {
    _mm512_storeu_ps(c + r * ldc, acc[r][0]);
    _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
  }
}

#endif  // QUARTET_GEMM_X86

const MicroKernel kPortable{"portable", kPortableMR, kPortableNR, micro_portable};
#if QUARTET_GEMM_X86
const MicroKernel kAvx2{"avx2", kAvx2MR, kAvx2NR, micro_avx2};
const MicroKernel kAvx512{"avx512", kAvx512MR, kAvx512NR, micro_avx512};
#endif

const MicroKernel& select_kernel() {
#if QUARTET_GEMM_X86
  __builtin_cpu_init();
  bool has_avx512 = __builtin_cpu_supports("avx512f");
  bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const char* want = getenv("QUARTET_CPU_GEMM_KERNEL");
  if (want && strcmp(want, "portable") == 0) return kPortable;
  if (want && strcmp(want, "avx2") == 0 && has_avx2) return kAvx2;
  if (has_avx512) return kAvx512;
  if (has_avx2) return kAvx2;
#endif
  return kPortable;
}

}  // namespace

const MicroKernel& gemm_micro_kernel() {
  static const MicroKernel& chosen = select_kernel();  // thread-safe one-time initialization
  return chosen;
}

}  // namespace cpu
}  // namespace quartet
