// scalar_api.cpp — the scalar tables of §1 and the Philox generator of §2 as host-array calls, so tests
// and tools check exactly the functions the kernels use (numerics.h).
#include "core/numerics.h"
#include "core/status.h"

using namespace quartet;

namespace {
int32_t need(const char* fn, const void* p, const char* name) {
  return p ? QUARTET_OK : fail(QUARTET_ERR_NULL_POINTER, fn, "%s must not be NULL", name);
}
int32_t need_n(const char* fn, int64_t n) {
  return n >= 0 ? QUARTET_OK : fail(QUARTET_ERR_SHAPE, fn, "n must be >= 0, got %lld", (long long)n);
}
int32_t need_u24(const char* fn, const uint32_t* u, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (u[i] >= (1u << 24))
      return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "u24[%lld] must be < 2^24, got %u", (long long)i, u[i]);
  return QUARTET_OK;
}
}  // namespace

#define SCALAR_LOOP(fn, in, out, body)          \
  QUARTET_TRY(need(fn, in, #in));                \
  QUARTET_TRY(need(fn, out, #out));              \
  QUARTET_TRY(need_n(fn, n));                    \
  for (int64_t i = 0; i < n; ++i) { body; }      \
  return QUARTET_OK

extern "C" {

QUARTET_API int32_t quartet_encode_e2m1(const float* x, int64_t n, uint8_t* codes) {
  SCALAR_LOOP("quartet_encode_e2m1", x, codes, codes[i] = (uint8_t)e2m1_rne(x[i]));
}
QUARTET_API int32_t quartet_decode_e2m1(const uint8_t* codes, int64_t n, float* x) {
  SCALAR_LOOP("quartet_decode_e2m1", codes, x, x[i] = e2m1_value(codes[i] & 15u));
}
QUARTET_API int32_t quartet_encode_e4m3(const float* x, int64_t n, uint8_t* codes) {
  const char* fn = "quartet_encode_e4m3";
  QUARTET_TRY(need(fn, x, "x"));
  for (int64_t i = 0; i < n; ++i)
    if (!(x[i] >= 0.0f) && x[i] == x[i])
      return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "x[%lld] must be >= 0 (block scales are non-negative), got %g",
                  (long long)i, (double)x[i]);
  SCALAR_LOOP(fn, x, codes, codes[i] = (uint8_t)e4m3_rne_sat(x[i]));
}
QUARTET_API int32_t quartet_decode_e4m3(const uint8_t* codes, int64_t n, float* x) {
  SCALAR_LOOP("quartet_decode_e4m3", codes, x, x[i] = e4m3_value(codes[i]));
}
QUARTET_API int32_t quartet_decode_e8m0(const uint8_t* codes, int64_t n, float* x) {
  SCALAR_LOOP("quartet_decode_e8m0", codes, x, x[i] = e8m0_value(codes[i]));
}
QUARTET_API int32_t quartet_f32_to_bf16(const float* x, int64_t n, uint16_t* out) {
  SCALAR_LOOP("quartet_f32_to_bf16", x, out, out[i] = f32_to_bf16(x[i]));
}
QUARTET_API int32_t quartet_bf16_to_f32(const uint16_t* x, int64_t n, float* out) {
  SCALAR_LOOP("quartet_bf16_to_f32", x, out, out[i] = bf16_to_f32(x[i]));
}

QUARTET_API int32_t quartet_sr_e2m1(const float* x, const uint32_t* u24, int64_t n, uint8_t* codes) {
  const char* fn = "quartet_sr_e2m1";
  QUARTET_TRY(need(fn, u24, "u24"));
  QUARTET_TRY(need_n(fn, n));
  QUARTET_TRY(need_u24(fn, u24, n));
  SCALAR_LOOP(fn, x, codes, codes[i] = (uint8_t)e2m1_sr(x[i], u24[i]));
}

QUARTET_API int32_t quartet_sr_e4m3(const float* x, const uint32_t* u24, int64_t n, uint8_t* codes) {
  const char* fn = "quartet_sr_e4m3";
  QUARTET_TRY(need(fn, x, "x"));
  QUARTET_TRY(need(fn, u24, "u24"));
  QUARTET_TRY(need_n(fn, n));
  QUARTET_TRY(need_u24(fn, u24, n));
  for (int64_t i = 0; i < n; ++i)
    if (!(x[i] >= 0.0f) || !is_finite(x[i]))
      return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "x[%lld] must be finite and >= 0, got %g", (long long)i, (double)x[i]);
  SCALAR_LOOP(fn, x, codes, codes[i] = (uint8_t)e4m3_sr(x[i], u24[i]));
}

QUARTET_API int32_t quartet_eden_block(const float* y16, float v, float g, uint32_t u24, uint8_t* codes8,
                                       float* s_factor, float* corrected, uint8_t* scale) {
  const char* fn = "quartet_eden_block";
  QUARTET_TRY(need(fn, y16, "y16"));
  QUARTET_TRY(need(fn, codes8, "codes8"));
  QUARTET_TRY(need(fn, s_factor, "s_factor"));
  QUARTET_TRY(need(fn, corrected, "corrected"));
  QUARTET_TRY(need(fn, scale, "scale"));
  if (!(v > 0.0f) || !is_finite(v)) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "v must be finite and > 0, got %g", (double)v);
  if (!(g > 0.0f) || !is_finite(g)) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "g must be finite and > 0, got %g", (double)g);
  if (u24 >= (1u << 24)) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "u24 must be < 2^24, got %u", u24);
  for (int i = 0; i < 16; ++i)
    if (!is_finite(y16[i])) return fail(QUARTET_ERR_NON_FINITE, fn, "y16[%d] is not finite", i);
  uint32_t c[16];
  *scale = (uint8_t)eden_a_block(y16, v, g, u24, c, s_factor, corrected);
  pack16(c, codes8);
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_philox4x32(const uint32_t* ctr, const uint32_t* key, uint32_t* out) {
  const char* fn = "quartet_philox4x32";
  QUARTET_TRY(need(fn, ctr, "ctr"));
  QUARTET_TRY(need(fn, key, "key"));
  QUARTET_TRY(need(fn, out, "out"));
  philox4x32_10(ctr, key[0], key[1], out);
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_uniform_u24(uint32_t seed, uint32_t step, uint32_t stream, uint32_t tag, int64_t first,
                                        int64_t n, uint32_t* out) {
  const char* fn = "quartet_uniform_u24";
  QUARTET_TRY(need(fn, out, "out"));
  QUARTET_TRY(need_n(fn, n));
  if (first < 0) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "first must be >= 0, got %lld", (long long)first);
  for (int64_t i = 0; i < n; ++i) out[i] = philox_u24(seed, step, stream, tag, (uint64_t)(first + i));
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_rht_signs(uint32_t seed, uint32_t step, uint32_t layer_id, uint32_t* signs4) {
  QUARTET_TRY(need("quartet_rht_signs", signs4, "signs4"));
  if (layer_id >= (1u << 24))
    return fail(QUARTET_ERR_INVALID_ARGUMENT, "quartet_rht_signs", "layer_id must be < 2^24, got %u", layer_id);
  rht_signs128(seed, step, layer_id, signs4);
  return QUARTET_OK;
}

}  // extern "C"
