// requantize.cpp — re-quantize a saved quantized tensor along its other dimension on the CPU
// (quartet_requantize, numerics.md §5.8): decode src [rows, cols] to FP32, transpose to the logical
// [cols, rows], RHT along the new K = rows, quantize. It is the quantize driver fed by a decoding reader,
// so the result equals quantize(dequantize(src) as F32, transpose = 1) bit for bit.
#include "core/status.h"
#include "cpu/cpu_common.h"
#include "cpu/cpu_internal.h"
#include "cpu/logical_matrix.h"
#include "cpu/row_readers.h"

namespace quartet {
namespace cpu {

int32_t requantize(const RequantizeArgs& a) {
  const char* fn = "quartet_requantize";
  const QuantizeArgs q = requantize_target(a);

  float* y = working_copy(q.R * q.K);
  if (!y)
    return fail(QUARTET_ERR_OUT_OF_MEMORY, fn, "cannot allocate the FP32 working copy of the [%lld, %lld] matrix",
                (long long)q.R, (long long)q.K);
  const ScalePlacement src_place = scale_placement(a.cols / block_size(a.src_format), QUARTET_SCALES_LINEAR);
  if (a.src_format == QUARTET_FORMAT_NVFP4) {
    const float g = a.src_tensor_scale ? *a.src_tensor_scale : 1.0f;
    materialize_logical(Nvfp4RowReader{a.src_codes, a.src_scales, g, a.cols, src_place}, a.rows, a.cols, true,
                        y);
  } else {
    materialize_logical(Mxfp4RowReader{a.src_codes, a.src_scales, a.cols, src_place}, a.rows, a.cols, true, y);
  }
  rotate_rows(y, q.R, q.K, q.rht);
  return quantize_logical(fn, "the dequantized source", y, q);
}

}  // namespace cpu
}  // namespace quartet
