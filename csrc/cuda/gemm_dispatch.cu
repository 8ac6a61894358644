// gemm_dispatch.cu — cuda::gemm_fp4 and cuda::gemm: choose a GEMM implementation (gemm_paths.h) by the
// device's compute capability at run time, or the one that quartet_cuda_set_gemm_path forced.
//
// FP4 GEMMs, automatic choice (the first that serves the call; QUARTET_ERR_UNSUPPORTED moves on):
//   sm_90            -> wgmma decode-to-16-bit (gemm_wgmma_sm90.cu), then mma.sync
//   sm_120           -> block-scaled FP4 mma.sync (gemm_sm120.cu), then mma.sync decode
//   sm_100 and newer -> cuBLASLt block-scaled NVFP4/MXFP4 (gemm_cublaslt.cu), then mma.sync decode
//   sm_80 / sm_89    -> mma.sync decode-to-16-bit (gemm_mma_bf16.cu)
// Dense GEMMs: cuBLASLt when it was found at run time, else the built-in kernels (gemm_builtin.cu).
// A forced path runs alone: if it cannot serve a call (wrong arch, shape, missing library, or a path of the
// other kind — FP4 paths 1-4 do not run dense GEMMs, path 6 does not run FP4 GEMMs) the call fails with
// QUARTET_ERR_UNSUPPORTED and its message, never silently on another path.
#include <atomic>

#include "cuda/cuda_common.cuh"
#include "cuda/gemm_paths.h"

namespace quartet {
namespace cuda {
namespace {

std::atomic<int32_t> g_forced{kGemmAuto};
std::atomic<int32_t> g_last{kGemmAuto};

constexpr int kMaxDevices = 64;
std::atomic<int32_t> g_cc[kMaxDevices];  // 10 * major + minor, 0 = not asked yet

int32_t current_cc(const char* fn, int32_t* cc) {
  int dev = 0;
  QUARTET_CUDA_TRY(fn, cudaGetDevice(&dev));
  const int32_t cached = dev >= 0 && dev < kMaxDevices ? g_cc[dev].load(std::memory_order_relaxed) : 0;
  if (cached) {
    *cc = cached;
    return QUARTET_OK;
  }
  int major = 0, minor = 0;
  QUARTET_CUDA_TRY(fn, cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  QUARTET_CUDA_TRY(fn, cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  *cc = 10 * major + minor;
  if (dev >= 0 && dev < kMaxDevices) g_cc[dev].store(*cc, std::memory_order_relaxed);
  return QUARTET_OK;
}

const char* path_name(int32_t path) {
  switch (path) {
    case kGemmMmaBf16: return "mma.sync decode-to-16-bit (1)";
    case kGemmWgmma: return "wgmma decode-to-16-bit (2)";
    case kGemmSm120: return "sm_120a block-scaled mma.sync (3)";
    case kGemmSm120Emulated: return "sm_120a data path with the software MMA (4)";
    case kGemmCublasLt: return "cuBLASLt (5)";
    case kGemmBuiltin: return "built-in dense (6)";
    default: return "auto (0)";
  }
}

int32_t run_fp4(int32_t path, const Fp4GemmArgs& a) {
  switch (path) {
    case kGemmMmaBf16: return gemm_fp4_mma_bf16(a);
    case kGemmWgmma: return gemm_fp4_wgmma_sm90(a);
    case kGemmSm120: return gemm_fp4_sm120(a, false);
    case kGemmSm120Emulated: return gemm_fp4_sm120(a, true);
    case kGemmCublasLt: return gemm_fp4_cublaslt(a);
    default:
      return fail(QUARTET_ERR_UNSUPPORTED, "quartet_gemm_fp4", "the forced GEMM path %s does not run FP4 GEMMs",
                  path_name(path));
  }
}

int32_t finish(int32_t status, int32_t path) {
  if (status == QUARTET_OK) g_last.store(path, std::memory_order_relaxed);
  return status;
}

}  // namespace

int32_t gemm_fp4(const Fp4GemmArgs& a) {
  const int32_t forced = g_forced.load(std::memory_order_relaxed);
  if (forced != kGemmAuto) return finish(run_fp4(forced, a), forced);
  int32_t cc = 0;
  QUARTET_TRY(current_cc("quartet_gemm_fp4", &cc));
  const int32_t preferred = cc == 90 ? kGemmWgmma : cc / 10 == 12 ? kGemmSm120 : cc >= 100 ? kGemmCublasLt : kGemmMmaBf16;
  if (preferred != kGemmMmaBf16) {
    const int32_t st = run_fp4(preferred, a);
    if (st != QUARTET_ERR_UNSUPPORTED) return finish(st, preferred);
  }
  return finish(gemm_fp4_mma_bf16(a), kGemmMmaBf16);
}

int32_t gemm(const GemmArgs& g) {
  const int32_t forced = g_forced.load(std::memory_order_relaxed);
  switch (forced) {
    case kGemmAuto: {
      const int32_t st = gemm_cublaslt(g);
      if (st != QUARTET_ERR_UNSUPPORTED) return finish(st, kGemmCublasLt);
      return finish(gemm_builtin(g), kGemmBuiltin);
    }
    case kGemmCublasLt: return finish(gemm_cublaslt(g), kGemmCublasLt);
    case kGemmBuiltin: return finish(gemm_builtin(g), kGemmBuiltin);
    default:
      return fail(QUARTET_ERR_UNSUPPORTED, "quartet_gemm", "the forced GEMM path %s does not run dense GEMMs",
                  path_name(forced));
  }
}

int32_t set_gemm_path(int32_t path) {  // range-checked by the API layer
  g_forced.store(path, std::memory_order_relaxed);
  return QUARTET_OK;
}

int32_t gemm_last_path(int32_t* path) {
  *path = g_last.load(std::memory_order_relaxed);
  return QUARTET_OK;
}

}  // namespace cuda
}  // namespace quartet
