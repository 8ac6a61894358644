// quantize.cu — cuda::quantize: describes the input (F32 or BF16; x itself or x^T) as a front-end and runs
// the quantizer pipeline of quant_pipeline.cu on it.
#include "cuda/quant_pipeline.cuh"

namespace quartet {
namespace cuda {

int32_t quantize(const QuantizeArgs& a) {
  const char* fn = "quartet_quantize";
  const bool bf16 = a.x_dtype == QUARTET_DTYPE_BF16;
  if (!a.transpose) {
    DenseRows front{a.x, bf16, a.R * (a.K / 16), a.K / 16, aligned(a.x, 16), false};
    return run_quantize(fn, front, a);
  }
  // storage x is [K, R] (rows = K): vector loads need 16-byte aligned storage rows
  const int64_t elem = bf16 ? 2 : 4;
  TransposedLoader ld{};
  ld.kind = bf16 ? TransposedLoader::kBf16 : TransposedLoader::kF32;
  ld.x = a.x;
  ld.vec = aligned(a.x, 16) && (a.R * elem) % 16 == 0;
  ld.R = a.R;
  Tiled front{ld, a.R, a.K, false};
  return run_quantize(fn, front, a);
}

}  // namespace cuda
}  // namespace quartet
