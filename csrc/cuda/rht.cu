// rht.cu — cuda::rht: RHT-d (numerics.md §5.5) of every d-chunk of every row, F32/BF16 in and out. The chunk
// is spread over d/16 lanes (rht_lanes in quant_kernels.cuh: the same butterflies as numerics.h rht_chunk).
// out may alias x (same dtype): every thread reads its 16 elements before anyone writes them back.
#include "cuda/quant_kernels.cuh"

namespace quartet {
namespace cuda {

namespace {

template <class Tout>
__global__ void __launch_bounds__(kThreads) rht_rows(DenseRows front, RhtParams rp, Tout* out, bool vec_out) {
  front.for_each(rp, [&](int64_t r, int64_t c, bool valid, float (&y)[16]) {
    if (valid) store16(out + (r * front.kb + c) * 16, y, vec_out);
  });
}

template <class Tout>
int32_t run(const char* fn, const RhtArgs& a) {
  DenseRows front{a.x, a.x_dtype == QUARTET_DTYPE_BF16, a.rows * (a.cols / 16), a.cols / 16, aligned(a.x, 16), false};
  const int grid = grid_for(rht_rows<Tout>, front.units());
  rht_rows<Tout><<<grid, kThreads, 0, current_stream()>>>(front, rht_params(a.rht), static_cast<Tout*>(a.out),
                                                         aligned(a.out, 16));
  return check_launch(fn);
}

}  // namespace

int32_t rht(const RhtArgs& a) {
  const char* fn = "quartet_rht";
  return a.out_dtype == QUARTET_DTYPE_F32 ? run<float>(fn, a) : run<__nv_bfloat16>(fn, a);
}

}  // namespace cuda
}  // namespace quartet
