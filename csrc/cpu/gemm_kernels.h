// gemm_kernels.h — the register-blocked micro-kernels of the CPU GEMMs, one per instruction set.
//
// A micro-kernel adds the product of two packed panels into an MR x NR tile of FP32 accumulators:
//     c[r * ldc + j] += sum_{k < kc} a[k * MR + r] * b[k * NR + j]      (r < MR, j < NR)
// where `a` is an MR-row panel of op(A) stored k-major (MR values per k) and `b` an NR-column panel of
// op(B) stored k-major (NR values per k); both are zero-padded to full MR / NR by the packers.
//
// Every kernel keeps ONE accumulator per output element and adds the k terms in increasing k, so the
// result of an output element never depends on the tiling or the thread count. The AVX2 and AVX-512
// kernels both use fused multiply-add (one rounding per term) and therefore give bit-identical results;
// the portable kernel rounds the product and the sum separately (two roundings per term). Both satisfy
// the recursive-summation bound |acc - sum_k a_k b_k| <= gamma_K * sum_k |a_k b_k| (gamma_K = K u / (1 - K u),
// u = 2^-24), with K the full contraction length (the accumulator is carried across k blocks).
#pragma once
#include <stdint.h>

namespace quartet {
namespace cpu {

using MicroKernelFn = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc);

struct MicroKernel {
  const char* name;  // "avx512", "avx2", "portable"
  int mr, nr;
  MicroKernelFn fn;
};

// The fastest kernel this CPU supports, chosen once at first use. The environment variable
// QUARTET_CPU_GEMM_KERNEL (= avx512 | avx2 | portable) forces a kernel for tests and benchmarks; a kernel
// the CPU cannot run is never chosen (the request then falls back to the best supported one).
const MicroKernel& gemm_micro_kernel();

}  // namespace cpu
}  // namespace quartet
