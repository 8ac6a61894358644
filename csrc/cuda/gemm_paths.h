// gemm_paths.h — the CUDA GEMM implementations that the dispatcher (gemm_dispatch.cu) chooses between.
// Each returns QUARTET_OK, or QUARTET_ERR_UNSUPPORTED when it cannot serve these arguments on this device
// (the dispatcher then falls back), or another error.
#pragma once
#include "core/ops.h"

namespace quartet {
namespace cuda {

// Decode-to-BF16 inside the main loop + BF16 tensor cores: mma.sync (sm_80+, also built for sm_100a/120a).
int32_t gemm_fp4_mma_bf16(const Fp4GemmArgs& a);
// Same decode, wgmma main loop (sm_90a only).
int32_t gemm_fp4_wgmma_sm90(const Fp4GemmArgs& a);
// Block-scaled FP4 mma.sync of sm_120a (kind::mxf4nvf4 / mxf4). emulate = true runs the identical data
// path on any arch with a software stand-in for the MMA instruction (for testing on Hopper).
int32_t gemm_fp4_sm120(const Fp4GemmArgs& a, bool emulate);
// cuBLASLt found with dlopen at run time: block-scaled NVFP4 (sm_100a) and plain BF16 GEMMs.
int32_t gemm_fp4_cublaslt(const Fp4GemmArgs& a);
int32_t gemm_cublaslt(const GemmArgs& a);
// Built-in dense GEMM (F32/BF16 inputs) for when cuBLASLt is absent.
int32_t gemm_builtin(const GemmArgs& a);

// Test/benchmark override of the run-time dispatch (quartet_cuda_set_gemm_path in quartet.h).
enum GemmPath { kGemmAuto = 0, kGemmMmaBf16 = 1, kGemmWgmma = 2, kGemmSm120 = 3, kGemmSm120Emulated = 4,
                kGemmCublasLt = 5, kGemmBuiltin = 6 };

}  // namespace cuda
}  // namespace quartet
