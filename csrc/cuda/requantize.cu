// requantize.cu — cuda::requantize (numerics.md §5.8): the saved NVFP4/MXFP4 tensor src[rows, cols] is
// decoded to FP32 inside the tile loader (the exact values dequantize returns), transposed through shared
// memory, rotated and re-quantized by the same pipeline as quantize — so the result equals
// quantize(dequantize(src), transpose = 1) bit for bit, with no FP32/BF16 copy of the tensor in memory.
// MS-EDEN variant B takes two kernels: the fused decode + transpose + RHT + codes pass, and the scale pass.
#include "cuda/quant_pipeline.cuh"

namespace quartet {
namespace cuda {

int32_t requantize(const RequantizeArgs& a) {
  const char* fn = "quartet_requantize";
  const QuantizeArgs q = requantize_target(a);
  TransposedLoader ld{};
  ld.kind = TransposedLoader::kQuantized;
  ld.src = QuantizedSource{a.src_codes, a.src_scales, a.src_tensor_scale, a.src_format == QUARTET_FORMAT_MXFP4,
                           aligned(a.src_codes, 8)};
  ld.R = a.cols;
  Tiled front{ld, q.R, q.K, false};
  return run_quantize(fn, front, q);
}

}  // namespace cuda
}  // namespace quartet
