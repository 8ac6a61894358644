// swizzle.cu — cuda::swizzle: linear [rows, scale_cols] scale bytes <-> the 128x4 tiled layout of
// numerics.md §3.5 (rows padded to 128, columns to 4, padding bytes 0). One thread per destination byte, so
// the writes are coalesced and every padding byte is written.
#include "cuda/quant_common.cuh"

namespace quartet {
namespace cuda {

namespace {

__global__ void __launch_bounds__(kThreads) to_swizzled(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t cols) {
  const int64_t nct = (cols + 3) / 4;
  const int64_t total = swizzled_bytes(rows, cols);
  for (int64_t off = (int64_t)blockIdx.x * kThreads + threadIdx.x; off < total; off += (int64_t)gridDim.x * kThreads) {
    // invert off = ((r >> 7) * nct + (c >> 2)) * 512 + (r & 31) * 16 + ((r >> 5) & 3) * 4 + (c & 3)
    const int64_t tile = off >> 9;
    const int in = (int)(off & 511);
    const int64_t r = (tile / nct) * 128 + ((in >> 2) & 3) * 32 + (in >> 4);
    const int64_t c = (tile % nct) * 4 + (in & 3);
    dst[off] = (r < rows && c < cols) ? src[r * cols + c] : (uint8_t)0;
  }
}

__global__ void __launch_bounds__(kThreads) to_linear(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t cols) {
  const int64_t total = rows * cols;
  for (int64_t i = (int64_t)blockIdx.x * kThreads + threadIdx.x; i < total; i += (int64_t)gridDim.x * kThreads) {
    const int64_t r = i / cols;
    dst[i] = src[swizzle_offset(r, i - r * cols, cols)];
  }
}

}  // namespace

int32_t swizzle(const SwizzleArgs& a) {
  const char* fn = a.to_swizzled ? "quartet_swizzle_scales" : "quartet_unswizzle_scales";
  const int64_t total = a.to_swizzled ? swizzled_bytes(a.rows, a.scale_cols) : a.rows * a.scale_cols;
  const int64_t units = (total + kThreads - 1) / kThreads;
  if (a.to_swizzled) {
    to_swizzled<<<grid_for(to_swizzled, units), kThreads, 0, current_stream()>>>(a.src, a.dst, a.rows, a.scale_cols);
  } else {
    to_linear<<<grid_for(to_linear, units), kThreads, 0, current_stream()>>>(a.src, a.dst, a.rows, a.scale_cols);
  }
  return check_launch(fn);
}

}  // namespace cuda
}  // namespace quartet
