// quantize_mxfp4.cpp — the MXFP4 block stage of the CPU quantizer (§4, §5.9, §5.10): one numerics.h block
// function per 32-element block, E8M0 scales, no tensor scale (written as 1.0 when the caller asks for it).
// QuEST also emits the trust mask [R, K/8]: bit k&7 of byte k>>3 is |v_k| < 6.
#include "core/status.h"
#include "cpu/block_rows.h"
#include "cpu/cpu_internal.h"

namespace quartet {
namespace cpu {

int32_t quantize_mxfp4_rows(const char* fn, const float* y, const QuantizeArgs& a) {
  const int64_t K = a.K;
  switch (a.method) {
    case QUARTET_METHOD_MX_OCP:
      quantize_blocks<32>(y, a, [&](int64_t, int64_t, const float* x, uint32_t* c) { return mx_block_ocp(x, c); });
      break;
    case QUARTET_METHOD_MX_QUEST:
      quantize_blocks<32>(y, a, [&](int64_t r, int64_t kb, const float* x, uint32_t* c) {
        uint32_t mask;
        const uint32_t s = mx_block_quest(x, c, &mask);
        if (a.trust_mask) {
          uint8_t* m = a.trust_mask + r * (K / 8) + kb * 4;
          for (int j = 0; j < 4; ++j) m[j] = (uint8_t)(mask >> (8 * j));
        }
        return s;
      });
      break;
    case QUARTET_METHOD_MX_RTN_RM:
      quantize_blocks<32>(y, a, [&](int64_t, int64_t, const float* x, uint32_t* c) {
        return mx_block_range_matched(x, nullptr, c);
      });
      break;
    case QUARTET_METHOD_MX_SR_RM:
      quantize_blocks<32>(y, a, [&](int64_t r, int64_t kb, const float* x, uint32_t* c) {
        uint32_t u[32];
        element_uniforms(a, QUARTET_STREAM_SR_ELEMENT, (uint64_t)(r * K + kb * 32), 32, u);
        return mx_block_range_matched(x, u, c);
      });
      break;
    default:
      return fail(QUARTET_ERR_INTERNAL, fn, "unexpected MXFP4 method %d", a.method);
  }
  if (a.tensor_scale) *a.tensor_scale = 1.0f;
  return QUARTET_OK;
}

}  // namespace cpu
}  // namespace quartet
