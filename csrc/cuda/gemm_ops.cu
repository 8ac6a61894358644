// PLACEHOLDER (replaced by the CUDA GEMM work).
#include "cuda/cuda_common.cuh"
namespace quartet { namespace cuda {
int32_t gemm_fp4(const Fp4GemmArgs&) { return fail(QUARTET_ERR_UNSUPPORTED, "quartet_gemm_fp4", "not implemented yet on cuda"); }
int32_t gemm(const GemmArgs&) { return fail(QUARTET_ERR_UNSUPPORTED, "quartet_gemm", "not implemented yet on cuda"); }
}}
