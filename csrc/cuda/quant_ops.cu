// PLACEHOLDER (replaced by the CUDA quantizer work).
#include "cuda/cuda_common.cuh"
namespace quartet { namespace cuda {
static int32_t todo(const char* fn) { return fail(QUARTET_ERR_UNSUPPORTED, fn, "not implemented yet on cuda"); }
int32_t absmax(const AbsmaxArgs&) { return todo("quartet_absmax"); }
int32_t rht(const RhtArgs&) { return todo("quartet_rht"); }
int32_t quantize(const QuantizeArgs&) { return todo("quartet_quantize"); }
int32_t requantize(const RequantizeArgs&) { return todo("quartet_requantize"); }
int32_t dequantize(const DequantizeArgs&) { return todo("quartet_dequantize"); }
int32_t swizzle(const SwizzleArgs&) { return todo("quartet_swizzle_scales"); }
}}
