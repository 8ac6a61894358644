// linear_ops.cu — the element-wise pieces of the linear layers on the GPU (twins of csrc/cpu/linear_ops.cpp):
// dtype conversion, the exact transpose of a 16x16-blocked NVFP4 matrix, and the masked fixed Hadamard of
// the Quartet v1 backward. Same numerics.h arithmetic as the CPU, so the bytes agree.
#include "cuda/cuda_common.cuh"

namespace quartet {
namespace cuda {

namespace {

__global__ void convert_kernel(const void* x, int32_t xdt, void* out, int32_t odt, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float v = xdt == QUARTET_DTYPE_BF16 ? bf16_to_f32(static_cast<const uint16_t*>(x)[i]) : static_cast<const float*>(x)[i];
    if (odt == QUARTET_DTYPE_BF16) static_cast<uint16_t*>(out)[i] = f32_to_bf16(v);
    else static_cast<float*>(out)[i] = v;
  }
}

// One thread per output byte (two consecutive rows r, r+1 of one column c of the source).
__global__ void transpose16_codes_kernel(const uint8_t* codes, int64_t R, int64_t C, uint8_t* out) {
  int64_t total = C * (R / 2);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t c = i / (R / 2), r = 2 * (i % (R / 2));
    uint32_t sh = (uint32_t)(c & 1) * 4;
    uint32_t lo = (codes[r * (C / 2) + c / 2] >> sh) & 15u;
    uint32_t hi = (codes[(r + 1) * (C / 2) + c / 2] >> sh) & 15u;
    out[i] = (uint8_t)(lo | (hi << 4));
  }
}

__global__ void transpose16_scales_kernel(const uint8_t* scales, const float* g, int64_t R, int64_t C, uint8_t* out,
                                          float* out_g) {
  int64_t total = C * (R / 16);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t c = i / (R / 16), rb = i % (R / 16);
    out[i] = scales[(rb * 16) * (C / 16) + c / 16];
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) *out_g = g ? *g : 1.0f;
}

// One thread per 32-chunk (the Quartet v1 dimension); generic d handled by templates.
template <int D>
__global__ void mask_rht_kernel(const float* x, const uint8_t* mask, int64_t R, int64_t C, RhtSpec spec, void* out,
                                int32_t odt, bool accumulate) {
  int64_t chunks = R * (C / D);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < chunks; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t r = i / (C / D), c0 = (i % (C / D)) * D;
    float w[D];
    for (int j = 0; j < D; ++j) {
      int64_t c = c0 + j;
      bool keep = (mask[r * (C / 8) + c / 8] >> (c & 7)) & 1u;
      w[j] = keep ? x[r * C + c] : 0.0f;
    }
    rht_chunk<D>(w, spec.has_signs ? spec.signs : nullptr);
    for (int j = 0; j < D; ++j) {
      int64_t o = r * C + c0 + j;
      float v = w[j];
      if (accumulate) v = static_cast<float*>(out)[o] + v;
      if (odt == QUARTET_DTYPE_BF16) static_cast<uint16_t*>(out)[o] = f32_to_bf16(v);
      else static_cast<float*>(out)[o] = v;
    }
  }
}

unsigned grid_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  return (unsigned)(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

}  // namespace

int32_t convert(const ConvertArgs& a) {
  convert_kernel<<<grid_for(a.n, 256), 256, 0, current_stream()>>>(a.x, a.x_dtype, a.out, a.out_dtype, a.n);
  return check_launch("quartet_linear (convert)");
}

int32_t transpose16(const Transpose16Args& a) {
  cudaStream_t s = current_stream();
  transpose16_codes_kernel<<<grid_for(a.cols * a.rows / 2, 256), 256, 0, s>>>(a.codes, a.rows, a.cols, a.out_codes);
  QUARTET_TRY(check_launch("quartet_linear (transpose16 codes)"));
  transpose16_scales_kernel<<<grid_for(a.cols * a.rows / 16, 256), 256, 0, s>>>(a.scales, a.tensor_scale, a.rows, a.cols,
                                                                               a.out_scales, a.out_tensor_scale);
  return check_launch("quartet_linear (transpose16 scales)");
}

int32_t mask_rht(const MaskRhtArgs& a) {
  cudaStream_t s = current_stream();
  int64_t chunks = a.rows * (a.cols / a.rht.dim);
  if (a.rht.dim == 16) mask_rht_kernel<16><<<grid_for(chunks, 128), 128, 0, s>>>(a.x, a.mask, a.rows, a.cols, a.rht, a.out, a.out_dtype, a.accumulate);
  else if (a.rht.dim == 32) mask_rht_kernel<32><<<grid_for(chunks, 128), 128, 0, s>>>(a.x, a.mask, a.rows, a.cols, a.rht, a.out, a.out_dtype, a.accumulate);
  else mask_rht_kernel<128><<<grid_for(chunks, 64), 64, 0, s>>>(a.x, a.mask, a.rows, a.cols, a.rht, a.out, a.out_dtype, a.accumulate);
  return check_launch("quartet_linear (mask_rht)");
}

}  // namespace cuda
}  // namespace quartet
