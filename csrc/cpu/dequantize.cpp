// dequantize.cpp — decode an NVFP4 / MXFP4 matrix to F32 or BF16 on the CPU (quartet_dequantize).
// The values are exactly those row_readers.h feeds to requantize: NVFP4 fl(fl(val(code) * val(scale)) * g)
// (§3.1), MXFP4 val(code) * 2^(e-127) (§4); BF16 output rounds them to nearest even.
#include "core/parallel.h"
#include "core/status.h"
#include "cpu/cpu_common.h"
#include "cpu/row_readers.h"

namespace quartet {
namespace cpu {
namespace {

// Decode rows through `read` in runs of up to 256 columns (whole blocks: cols is a multiple of the block
// size, and so is every run).
template <class Reader>
void decode_rows(const Reader& read, const DequantizeArgs& a) {
  constexpr int64_t kRun = 256;
  parallel_for(a.rows, row_grain(a.cols), [&](int64_t r0, int64_t r1) {
    float buf[kRun];
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < a.cols; j += kRun) {
        const int64_t n = a.cols - j < kRun ? a.cols - j : kRun;
        read(r, j, n, buf);
        store_f32(buf, n, a.out, a.out_dtype, r * a.cols + j);
      }
  });
}

}  // namespace

int32_t dequantize(const DequantizeArgs& a) {
  const int64_t scale_cols = a.cols / block_size(a.format);
  const ScalePlacement place = scale_placement(scale_cols, a.scale_layout);
  if (a.format == QUARTET_FORMAT_NVFP4) {
    const float g = a.tensor_scale ? *a.tensor_scale : 1.0f;
    decode_rows(Nvfp4RowReader{a.codes, a.scales, g, a.cols, place}, a);
  } else {
    decode_rows(Mxfp4RowReader{a.codes, a.scales, a.cols, place}, a);
  }
  return QUARTET_OK;
}

}  // namespace cpu
}  // namespace quartet
