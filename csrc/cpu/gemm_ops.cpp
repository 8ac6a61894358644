// PLACEHOLDER (replaced by the CPU GEMM work).
#include "core/ops.h"
#include "core/status.h"
namespace quartet { namespace cpu {
int32_t gemm_fp4(const Fp4GemmArgs&) { return fail(QUARTET_ERR_UNSUPPORTED, "quartet_gemm_fp4", "not implemented yet on cpu"); }
int32_t gemm(const GemmArgs&) { return fail(QUARTET_ERR_UNSUPPORTED, "quartet_gemm", "not implemented yet on cpu"); }
}}
