// swizzle.cpp — convert a scale matrix [rows, scale_cols] between the linear layout and the 128x4 swizzled
// layout of numerics.md §3.5 on the CPU (quartet_swizzle_scales / quartet_unswizzle_scales). The padding
// bytes of the swizzled buffer are written as 0.
#include <string.h>

#include "core/parallel.h"
#include "core/status.h"
#include "cpu/cpu_common.h"

namespace quartet {
namespace cpu {

int32_t swizzle(const SwizzleArgs& a) {
  const ScalePlacement place = scale_placement(a.scale_cols, QUARTET_SCALES_SWIZZLED);
  if (a.to_swizzled) memset(a.dst, 0, (size_t)place.bytes(a.rows));
  parallel_for(a.rows, row_grain(a.scale_cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = 0; c < a.scale_cols; ++c) {
        const int64_t lin = r * a.scale_cols + c, swz = place.offset(r, c);
        if (a.to_swizzled) a.dst[swz] = a.src[lin];
        else a.dst[lin] = a.src[swz];
      }
  });
  return QUARTET_OK;
}

}  // namespace cpu
}  // namespace quartet
