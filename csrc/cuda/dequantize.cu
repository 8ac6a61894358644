// dequantize.cu — cuda::dequantize (numerics.md §3.1, §4): NVFP4 fl(fl(val(code) * val(s)) * g), MXFP4
// val(code) * 2^(e-127), to F32 or BF16 (RNE). A thread decodes runs of 16 elements (8 code bytes).
#include "cuda/quant_kernels.cuh"

namespace quartet {
namespace cuda {

namespace {

struct DequantParams {
  const uint8_t* codes;
  const uint8_t* scales;
  const float* tensor_scale;
  int64_t rows, cols;
  bool mx, swizzled, codes_vec, out_vec;
};

template <class Tout>
__global__ void __launch_bounds__(kThreads) dequant_runs(DequantParams p, Tout* out) {
  const float g = p.tensor_scale ? *p.tensor_scale : 1.0f;
  const int64_t kb = p.cols / 16, n = p.rows * kb;
  const int64_t scale_cols = p.mx ? p.cols / 32 : kb;
  const int64_t stride = (int64_t)gridDim.x * kThreads;
  int64_t u = (int64_t)blockIdx.x * kThreads + threadIdx.x;
  int64_t r = u / kb, c = u - r * kb;
  const int64_t sr = stride / kb, sc = stride - sr * kb;
  for (; u < n; u += stride) {
    const uint8_t* cp = p.codes + 8 * u;
    uint2 cw;
    if (p.codes_vec) {
      cw = *reinterpret_cast<const uint2*>(cp);
    } else {
      cw.x = cp[0] | (cp[1] << 8) | (cp[2] << 16) | ((uint32_t)cp[3] << 24);
      cw.y = cp[4] | (cp[5] << 8) | (cp[6] << 16) | ((uint32_t)cp[7] << 24);
    }
    const int64_t sc_c = p.mx ? c >> 1 : c;
    const uint32_t sb = p.scales[p.swizzled ? swizzle_offset(r, sc_c, scale_cols) : r * scale_cols + sc_c];
    const float s = p.mx ? e8m0_value(sb) : e4m3_value(sb);
    float v[16];
#pragma unroll
    for (int e = 0; e < 16; ++e) {
      const uint32_t code = ((e < 8 ? cw.x : cw.y) >> (4 * (e & 7))) & 15u;
      v[e] = p.mx ? e2m1_value(code) * s : (e2m1_value(code) * s) * g;
    }
    store16(out + 16 * u, v, p.out_vec);
    c += sc;
    r += sr;
    if (c >= kb) { c -= kb; ++r; }
  }
}

template <class Tout>
int32_t run(const char* fn, const DequantizeArgs& a) {
  DequantParams p{a.codes, a.scales, a.tensor_scale, a.rows, a.cols, a.format == QUARTET_FORMAT_MXFP4,
                  a.scale_layout == QUARTET_SCALES_SWIZZLED, aligned(a.codes, 8), aligned(a.out, 16)};
  const int64_t n = a.rows * (a.cols / 16);
  const int grid = grid_for(dequant_runs<Tout>, (n + kThreads - 1) / kThreads);
  dequant_runs<Tout><<<grid, kThreads, 0, current_stream()>>>(p, static_cast<Tout*>(a.out));
  return check_launch(fn);
}

}  // namespace

int32_t dequantize(const DequantizeArgs& a) {
  const char* fn = "quartet_dequantize";
  return a.out_dtype == QUARTET_DTYPE_F32 ? run<float>(fn, a) : run<__nv_bfloat16>(fn, a);
}

}  // namespace cuda
}  // namespace quartet
