// quant_pipeline.cuh — the CUDA quantizer pipeline, shared by quantize (dense input, plain or transposed) and
// requantize (a decoded saved tensor, transposed). Its kernels are instantiated once, in quant_pipeline.cu,
// for the two front-ends of quant_kernels.cuh (which switch dtype / source at run time: a smaller library).
// Which values meet in a block and where bytes go is decided there; the arithmetic is numerics.h
// (nvfp4_block_*, eden_*, mx_block_*), so the bytes are the CPU backend's bytes.
//
// The tensor scale g needs the abs-max of the whole (rotated) tensor before any block can be encoded, and
// the host never waits for it: a first kernel leaves one abs-max partial per CTA in the workspace, the next
// kernel reduces those partials on the device. Per method:
//   NVFP4 RTN, 4/6, SR, SR-4/6, EDEN-A: absmax pass (front-end + RHT, abs bits) -> quantize pass.
//     With amax_override the absmax pass is skipped (one pass over the data); the quantize pass then keeps
//     its own partials and a one-CTA finalize kernel checks them (non-finite input) and fills amax_out.
//   NVFP4 RTN 16x16: absmax pass also leaves per-tile maxima (atomicMax on abs bits) -> quantize pass.
//   NVFP4 EDEN-B (§5.7): pass 1 = codes + BF16 pre-scales + partials of F and of the abs-max (one read of
//     the input); pass 2 runs over the pre-scales only (g, SR of the scales).
//   MXFP4: one pass (no tensor scale) + finalize.
// A non-finite input stores QUARTET_ERR_NON_FINITE in the device status word (reported by the next
// synchronizing call); kernels that have not written anything yet then write nothing.
#pragma once
#include "cuda/quant_kernels.cuh"

namespace quartet {
namespace cuda {

// Runs the quantizer of `a` (format, method, layout, outputs, Philox key; a.x and a.transpose are described
// by the front-end) over the logical matrix that `front` delivers.
int32_t run_quantize(const char* fn, const DenseRows& front, const QuantizeArgs& a);
int32_t run_quantize(const char* fn, const Tiled& front, const QuantizeArgs& a);

}  // namespace cuda
}  // namespace quartet
