// PLACEHOLDER (replaced by the CUDA GEMM work).
#include "cuda/cuda_common.cuh"
namespace quartet { namespace cuda {
int32_t gemm_fp4(const Fp4GemmArgs&) { return fail(QUARTET_ERR_UNSUPPORTED, "quartet_gemm_fp4", "not implemented yet on cuda"); }
int32_t set_gemm_path(int32_t) { return fail(QUARTET_ERR_UNSUPPORTED, "quartet_cuda_set_gemm_path", "not implemented yet"); }
int32_t gemm_last_path(int32_t*) { return fail(QUARTET_ERR_UNSUPPORTED, "quartet_cuda_gemm_last_path", "not implemented yet"); }
int32_t gemm(const GemmArgs&) { return fail(QUARTET_ERR_UNSUPPORTED, "quartet_gemm", "not implemented yet on cuda"); }
}}
