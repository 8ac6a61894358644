// PLACEHOLDER (replaced by the CPU quantizer work): every op reports itself unsupported.
#include "core/ops.h"
#include "core/status.h"
namespace quartet { namespace cpu {
static int32_t todo(const char* fn) { return fail(QUARTET_ERR_UNSUPPORTED, fn, "not implemented yet on cpu"); }
int32_t absmax(const AbsmaxArgs&) { return todo("quartet_absmax"); }
int32_t rht(const RhtArgs&) { return todo("quartet_rht"); }
int32_t quantize(const QuantizeArgs&) { return todo("quartet_quantize"); }
int32_t requantize(const RequantizeArgs&) { return todo("quartet_requantize"); }
int32_t dequantize(const DequantizeArgs&) { return todo("quartet_dequantize"); }
int32_t swizzle(const SwizzleArgs&) { return todo("quartet_swizzle_scales"); }
}}
