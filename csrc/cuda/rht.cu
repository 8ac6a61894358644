// rht.cu — cuda::rht: RHT-d (numerics.md §5.5) of every d-chunk of every row, F32/BF16 in and out. The chunk
// is spread over d/16 lanes (rht_lanes in quant_kernels.cuh: the same butterflies as numerics.h rht_chunk).
// out may alias x (same dtype): every thread reads its 16 elements before anyone writes them back.
#include "cuda/quant_kernels.cuh"

namespace quartet {
namespace cuda {

namespace {

__device__ __forceinline__ void store16(float* dst, const float (&y)[16], bool vec) {
  if (vec) {
#pragma unroll
    for (int v = 0; v < 16; v += 4) *reinterpret_cast<float4*>(dst + v) = make_float4(y[v], y[v + 1], y[v + 2], y[v + 3]);
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i) dst[i] = y[i];
  }
}

__device__ __forceinline__ void store16(__nv_bfloat16* dst, const float (&y)[16], bool vec) {
  uint32_t w[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) w[j] = (uint32_t)f32_to_bf16(y[2 * j]) | ((uint32_t)f32_to_bf16(y[2 * j + 1]) << 16);
  if (vec) {
    reinterpret_cast<uint4*>(dst)[0] = make_uint4(w[0], w[1], w[2], w[3]);
    reinterpret_cast<uint4*>(dst)[1] = make_uint4(w[4], w[5], w[6], w[7]);
  } else {
    uint16_t* h = reinterpret_cast<uint16_t*>(dst);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      h[2 * j] = (uint16_t)w[j];
      h[2 * j + 1] = (uint16_t)(w[j] >> 16);
    }
  }
}

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
