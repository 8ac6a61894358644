// optim_cuda_stub.cpp — the CUDA optimizer entry points of a build without nvcc: the backend reports itself
// absent (quartet_sum_squares / quartet_adamw_step refuse backend cuda before reaching these).
#ifndef QUARTET_HAVE_CUDA
#include "core/optim_ops.h"
#include "core/status.h"

namespace quartet {
namespace cuda {

int32_t sum_squares(const SumSquaresArgs&) {
  return fail(QUARTET_ERR_UNSUPPORTED, "quartet_sum_squares", "this build of libquartet has no CUDA backend");
}
int32_t adamw(const AdamwArgs&) {
  return fail(QUARTET_ERR_UNSUPPORTED, "quartet_adamw_step", "this build of libquartet has no CUDA backend");
}

}  // namespace cuda
}  // namespace quartet
#endif
