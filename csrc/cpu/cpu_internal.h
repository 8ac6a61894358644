// cpu_internal.h — the steps the CPU quantizer ops are built from, shared between csrc/cpu files.
//
// quantize and requantize differ only in where the logical FP32 matrix comes from (a dense tensor or a
// decoded quantized one); from there on both run: rotate_rows (optional RHT) -> quantize_logical
// (abs-max, non-finite check, tensor scale, per-row block quantization).
#pragma once
#include <stdint.h>

#include "core/ops.h"

namespace quartet {
namespace cpu {

// Bit pattern of max|y| over n FP32 values (sign bits cleared). For non-negative floats the unsigned order
// of the bits is the numeric order, so this is the exact abs-max; >= 0x7F800000 means a NaN or Inf is
// present. Parallel, and independent of the thread count (max is order-free).
uint32_t absmax_bits_f32(const float* y, int64_t n);

// In-place RHT-d (numerics.md §5.5) of every consecutive d-chunk of every row of y[rows, cols];
// no-op when spec.dim == 0.
void rotate_rows(float* y, int64_t rows, int64_t cols, const RhtSpec& spec);

// Quantize the logical matrix y[a.R, a.K] (already rotated if a.rht asks for it; a.x, a.x_dtype and
// a.transpose are not read). `source` names the input in error messages ("x", "the dequantized source").
int32_t quantize_logical(const char* fn, const char* source, const float* y, const QuantizeArgs& a);

// The per-format block stages, called by quantize_logical once A (the abs-max used for the tensor scale)
// is known and a swizzled scale buffer has been zeroed.
int32_t quantize_nvfp4_rows(const char* fn, const float* y, float amax, const QuantizeArgs& a);
int32_t quantize_mxfp4_rows(const char* fn, const float* y, const QuantizeArgs& a);

}  // namespace cpu
}  // namespace quartet
