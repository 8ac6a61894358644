// quantize.cpp — the CPU quantize driver (quartet_quantize):
//   1. materialize the logical FP32 matrix [R, K] (widen BF16, transpose if asked),
//   2. RHT along K if asked (in place on that copy),
//   3. exact tensor abs-max A of the rotated matrix; NaN/Inf -> QUARTET_ERR_NON_FINITE,
//      amax_out <- A, amax_override replaces A for the tensor scale,
//   4. the format's block stage (quantize_nvfp4.cpp / quantize_mxfp4.cpp), parallel over rows.
// Steps 3-4 (quantize_logical) are shared with requantize.cpp.
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "cpu/cpu_common.h"
#include "cpu/cpu_internal.h"
#include "cpu/logical_matrix.h"
#include "cpu/row_readers.h"

namespace quartet {
namespace cpu {
namespace {

// Error path only: locate the first non-finite logical element and say where it is in the caller's terms.
int32_t report_non_finite(const char* fn, const char* source, const float* y, const QuantizeArgs& a) {
  int64_t n = a.R * a.K, p = 0;
  while (p < n && is_finite(y[p])) ++p;
  if (p == n) return fail(QUARTET_ERR_INTERNAL, fn, "abs-max saw a non-finite value that a rescan did not");
  const int64_t r = p / a.K, k = p % a.K;
  const float v = y[p];
  const char* what = v != v ? "NaN" : v > 0 ? "+Inf" : "-Inf";
  char where[96] = "";
  if (a.transpose) snprintf(where, sizeof where, " (storage [%lld, %lld], transpose = 1)", (long long)k, (long long)r);
  char after[128] = "";
  if (a.rht.dim)
    snprintf(after, sizeof after, " after the RHT-%d (a finite input whose rotation overflows float32 also lands here)",
             a.rht.dim);
  return fail(QUARTET_ERR_NON_FINITE, fn,
              "%s holds %s at logical [%lld, %lld]%s of the [%lld, %lld] matrix being quantized%s; quantizers "
              "reject NaN/Inf input",
              source, what, (long long)r, (long long)k, where, (long long)a.R, (long long)a.K, after);
}

}  // namespace

int32_t quantize_logical(const char* fn, const char* source, const float* y, const QuantizeArgs& a) {
  const uint32_t bits = absmax_bits_f32(y, a.R * a.K);
  if (bits >= 0x7F800000u) return report_non_finite(fn, source, y, a);
  const float amax = u2f(bits);

  // Delayed abs-max (§5.11): the override only changes the tensor scale; amax_out still reports the truth.
  float amax_for_scale = amax;
  if (a.amax_override) {
    const float o = *a.amax_override;
    if (!is_finite(o)) return fail(QUARTET_ERR_NON_FINITE, fn, "*amax_override must be finite, got %g", (double)o);
    if (o < 0.0f) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "*amax_override must be >= 0, got %g", (double)o);
    amax_for_scale = o;
  }
  if (a.amax_out) *a.amax_out = amax;

  // Swizzled scales: the padding rows/columns of the 128x4 tiles must read as 0 (§3.5).
  const ScalePlacement place = scale_placement(a.K / block_size(a.format), a.scale_layout);
  if (place.swizzled) memset(a.scales, 0, (size_t)place.bytes(a.R));

  return a.format == QUARTET_FORMAT_NVFP4 ? quantize_nvfp4_rows(fn, y, amax_for_scale, a)
                                          : quantize_mxfp4_rows(fn, y, a);
}

int32_t quantize(const QuantizeArgs& a) {
  const char* fn = "quartet_quantize";
  // An F32 input that needs neither transpose nor rotation is already the logical matrix.
  if (!a.transpose && a.x_dtype == QUARTET_DTYPE_F32 && a.rht.dim == 0)
    return quantize_logical(fn, "x", (const float*)a.x, a);

  float* y = working_copy(a.R * a.K);
  if (!y)
    return fail(QUARTET_ERR_OUT_OF_MEMORY, fn, "cannot allocate the FP32 working copy of the [%lld, %lld] matrix",
                (long long)a.R, (long long)a.K);
  materialize_logical(DenseRowReader{a.x, a.x_dtype, a.cols}, a.rows, a.cols, a.transpose, y);
  rotate_rows(y, a.R, a.K, a.rht);
  return quantize_logical(fn, "x", y, a);
}

}  // namespace cpu
}  // namespace quartet
