// quantize_nvfp4.cpp — the NVFP4 block stage of the CPU quantizer: tensor scale g per method (§3.3) and
// one numerics.h block function per 16-element block (§5.1-§5.7). Philox indices are logical (§2):
// element SR uses stream 1 (and stream 4 for the second 4/6 candidate) at r*K + k; scale SR uses stream 2
// at the un-swizzled block index r*(K/16) + k/16.
#include "core/status.h"
#include "cpu/block_rows.h"
#include "cpu/cpu_internal.h"

namespace quartet {
namespace cpu {
namespace {

// §5.2: one abs-max per 16x16 tile (16 logical rows x one 16-block), shared by the tile's 16 rows, so each
// of those rows gets the same scale byte and the quantized matrix is exactly transposable.
int32_t quantize_rtn_16x16(const char* fn, const float* y, float amax, const QuantizeArgs& a) {
  const int64_t K = a.K, nb = K / 16, groups = a.R / 16;
  const float g = nvfp4_tensor_scale(amax, QUARTET_K_RTN);
  auto tile_max = scratch<float>(groups * nb);
  if (!tile_max) return fail(QUARTET_ERR_OUT_OF_MEMORY, fn, "cannot allocate the 16x16 tile abs-max scratch");
  float* tm = tile_max.get();
  parallel_for(groups, row_grain(16 * K), [&](int64_t g0, int64_t g1) {
    for (int64_t gi = g0; gi < g1; ++gi)
      for (int64_t kb = 0; kb < nb; ++kb) {
        float m = 0.0f;
        for (int64_t rr = 0; rr < 16; ++rr) m = fmax_exact(m, block_absmax16(y + (gi * 16 + rr) * K + kb * 16));
        tm[gi * nb + kb] = m;
      }
  });
  quantize_blocks<16>(y, a, [&](int64_t r, int64_t kb, const float* x, uint32_t* c) {
    return nvfp4_block_rtn(x, tm[(r / 16) * nb + kb], g, c);
  });
  *a.tensor_scale = g;
  return QUARTET_OK;
}

// §5.7 MS-EDEN variant B. Kernel 1 writes the final codes and the BF16 pre-scale f_b of every block;
// F = max f_b fixes g = F/256; kernel 2 turns each f_b into its stored scale SR_E4M3(f_b / g) (stream 2).
int32_t quantize_eden_b(const char* fn, const float* y, const QuantizeArgs& a) {
  const int64_t K = a.K, nb = K / 16, nblocks = a.R * nb;
  auto prescale = scratch<float>(nblocks);
  if (!prescale) return fail(QUARTET_ERR_OUT_OF_MEMORY, fn, "cannot allocate the EDEN-B pre-scale scratch");
  float* f = prescale.get();
  parallel_for(a.R, row_grain(K), [&](int64_t r0, int64_t r1) {
    uint32_t c[16];
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t kb = 0; kb < nb; ++kb) {
        f[r * nb + kb] = eden_b_block_prescale(y + r * K + kb * 16, c);
        pack16(c, a.codes + r * (K / 2) + kb * 8);
      }
  });
  const float F = u2f(absmax_bits_f32(f, nblocks));  // every f_b >= 0: abs-max is the max
  const float g = eden_b_tensor_scale(F);
  const ScalePlacement place = scale_placement(nb, a.scale_layout);
  parallel_for(a.R, row_grain(nb * 16), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t kb = 0; kb < nb; ++kb) {
        const uint32_t u = block_uniform(a, QUARTET_STREAM_SR_SCALE, r, kb, nb);
        a.scales[place.offset(r, kb)] = (uint8_t)eden_b_block_scale(f[r * nb + kb], F, g, u);
      }
  });
  *a.tensor_scale = g;
  return QUARTET_OK;
}

}  // namespace

int32_t quantize_nvfp4_rows(const char* fn, const float* y, float amax, const QuantizeArgs& a) {
  const int64_t K = a.K, nb = K / 16;
  float g;
  switch (a.method) {
    case QUARTET_METHOD_RTN:
      g = nvfp4_tensor_scale(amax, QUARTET_K_RTN);
      quantize_blocks<16>(y, a, [&](int64_t, int64_t, const float* x, uint32_t* c) {
        return nvfp4_block_rtn(x, block_absmax16(x), g, c);
      });
      break;
    case QUARTET_METHOD_FOUR_SIX:
      g = nvfp4_tensor_scale(amax, QUARTET_K_46);
      quantize_blocks<16>(y, a, [&](int64_t, int64_t, const float* x, uint32_t* c) {
        return nvfp4_block_four_six(x, g, c);
      });
      break;
    case QUARTET_METHOD_SR:
      g = nvfp4_tensor_scale(amax, QUARTET_K_SR);
      quantize_blocks<16>(y, a, [&](int64_t r, int64_t kb, const float* x, uint32_t* c) {
        uint32_t u[16];
        element_uniforms(a, QUARTET_STREAM_SR_ELEMENT, (uint64_t)(r * K + kb * 16), 16, u);
        return nvfp4_block_sr(x, g, u, c);
      });
      break;
    case QUARTET_METHOD_SR_FOUR_SIX:  // 4/6 candidates (M = 256) with SR elements, §5.4 ablation
      g = nvfp4_tensor_scale(amax, QUARTET_K_46);
      quantize_blocks<16>(y, a, [&](int64_t r, int64_t kb, const float* x, uint32_t* c) {
        uint32_t u6[16], u4[16];
        element_uniforms(a, QUARTET_STREAM_SR_ELEMENT, (uint64_t)(r * K + kb * 16), 16, u6);
        element_uniforms(a, QUARTET_STREAM_SR_ELEMENT_2, (uint64_t)(r * K + kb * 16), 16, u4);
        return nvfp4_block_sr_four_six(x, g, u6, u4, c);
      });
      break;
    case QUARTET_METHOD_EDEN_A:
      g = nvfp4_tensor_scale(amax, QUARTET_K_ED);
      quantize_blocks<16>(y, a, [&](int64_t r, int64_t kb, const float* x, uint32_t* c) {
        float s_factor, corrected;
        const uint32_t u = block_uniform(a, QUARTET_STREAM_SR_SCALE, r, kb, nb);
        return eden_a_block(x, QUARTET_V_ED, g, u, c, &s_factor, &corrected);
      });
      break;
    case QUARTET_METHOD_RTN_16X16:
      return quantize_rtn_16x16(fn, y, amax, a);
    case QUARTET_METHOD_EDEN_B:
      return quantize_eden_b(fn, y, a);
    default:
      return fail(QUARTET_ERR_INTERNAL, fn, "unexpected NVFP4 method %d", a.method);
  }
  *a.tensor_scale = g;
  return QUARTET_OK;
}

}  // namespace cpu
}  // namespace quartet
