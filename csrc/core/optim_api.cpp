// optim_api.cpp — the C boundary of the optimizer ops: quartet_sum_squares (the global gradient norm) and
// quartet_adamw_step. Every argument is checked here, and every scalar the kernels use is derived here once,
// so the CPU and CUDA kernels start from the same float32 values and stay bit-identical.
#include <math.h>
#include <stdint.h>

#include "core/numerics.h"
#include "core/ops.h"
#include "core/optim_ops.h"
#include "core/status.h"
#include "core/checks.h"

using namespace quartet;

namespace {


int32_t check_finite_scalar(const char* fn, float v, const char* name) {
  return is_finite(v) ? QUARTET_OK : fail(QUARTET_ERR_NON_FINITE, fn, "%s must be finite, got %g", name, (double)v);
}

// beta^step in binary64 by square-and-multiply (lowest bit first). Not pow(): libm implementations may differ
// in the last bit, and the TypeScript layer (src/train/optimizer.ts) reproduces exactly this sequence.
double power_by_squaring(double base, int64_t exponent) {
  double result = 1.0;
  while (exponent > 0) {
    if (exponent & 1) result *= base;
    base *= base;
    exponent >>= 1;
  }
  return result;
}

// [p, p + n) and [q, q + n) floats overlap?
bool overlaps(const float* p, const float* q, int64_t n) {
  uintptr_t a = (uintptr_t)p, b = (uintptr_t)q, len = (uintptr_t)n * sizeof(float);
  return a < b + len && b < a + len;
}

}  // namespace

extern "C" {

QUARTET_API int32_t quartet_sum_squares(int32_t backend, int32_t count, const float* const* tensors,
                                        const int64_t* sizes, double* sumsq) {
  const char* fn = "quartet_sum_squares";
  QUARTET_TRY(check_backend(fn, backend));
  if (count <= 0) return fail(QUARTET_ERR_SHAPE, fn, "count must be > 0, got %d", count);
  if (!tensors) return fail(QUARTET_ERR_NULL_POINTER, fn, "tensors must not be NULL");
  if (!sizes) return fail(QUARTET_ERR_NULL_POINTER, fn, "sizes must not be NULL");
  if (!sumsq) return fail(QUARTET_ERR_NULL_POINTER, fn, "sumsq must not be NULL");
  for (int32_t i = 0; i < count; ++i) {
    if (!tensors[i]) return fail(QUARTET_ERR_NULL_POINTER, fn, "tensors[%d] must not be NULL", i);
    if (sizes[i] <= 0) return fail(QUARTET_ERR_SHAPE, fn, "sizes[%d] must be > 0, got %lld", i, (long long)sizes[i]);
  }
  SumSquaresArgs a{count, tensors, sizes, sumsq};
  return backend == QUARTET_BACKEND_CPU ? cpu::sum_squares(a) : cuda::sum_squares(a);
}

QUARTET_API int32_t quartet_adamw_step(int32_t backend, float* w, const float* grad, float* m, float* v, int64_t n,
                                       int64_t step, float lr, float beta1, float beta2, float eps,
                                       float weight_decay, float grad_scale) {
  const char* fn = "quartet_adamw_step";
  QUARTET_TRY(check_backend(fn, backend));
  if (!w) return fail(QUARTET_ERR_NULL_POINTER, fn, "w must not be NULL");
  if (!grad) return fail(QUARTET_ERR_NULL_POINTER, fn, "grad must not be NULL");
  if (!m) return fail(QUARTET_ERR_NULL_POINTER, fn, "m must not be NULL");
  if (!v) return fail(QUARTET_ERR_NULL_POINTER, fn, "v must not be NULL");
  if (n <= 0) return fail(QUARTET_ERR_SHAPE, fn, "n must be > 0, got %lld", (long long)n);
  if (step < 1) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "step must be >= 1, got %lld", (long long)step);
  QUARTET_TRY(check_finite_scalar(fn, lr, "lr"));
  QUARTET_TRY(check_finite_scalar(fn, beta1, "beta1"));
  QUARTET_TRY(check_finite_scalar(fn, beta2, "beta2"));
  QUARTET_TRY(check_finite_scalar(fn, eps, "eps"));
  QUARTET_TRY(check_finite_scalar(fn, weight_decay, "weight_decay"));
  QUARTET_TRY(check_finite_scalar(fn, grad_scale, "grad_scale"));
  if (lr < 0.0f) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "lr must be >= 0, got %g", (double)lr);
  if (!(beta1 >= 0.0f && beta1 < 1.0f))
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "beta1 must be in [0, 1), got %g", (double)beta1);
  if (!(beta2 >= 0.0f && beta2 < 1.0f))
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "beta2 must be in [0, 1), got %g", (double)beta2);
  if (!(eps > 0.0f)) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "eps must be > 0, got %g", (double)eps);
  if (weight_decay < 0.0f)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "weight_decay must be >= 0, got %g", (double)weight_decay);
  if ((double)lr * (double)weight_decay >= 1.0)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "lr * weight_decay must be < 1, got %g",
                (double)lr * (double)weight_decay);
  if (grad_scale < 0.0f)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "grad_scale must be >= 0, got %g", (double)grad_scale);
  if (overlaps(w, grad, n) || overlaps(w, m, n) || overlaps(w, v, n) || overlaps(grad, m, n) ||
      overlaps(grad, v, n) || overlaps(m, v, n))
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "w, grad, m and v must not overlap");

  // Bias corrections in binary64, on the host only, then each derived scalar is rounded once to float32.
  const double c1 = 1.0 - power_by_squaring((double)beta1, step);
  const double c2 = 1.0 - power_by_squaring((double)beta2, step);
  AdamwArgs a{};
  a.w = w;
  a.grad = grad;
  a.m = m;
  a.v = v;
  a.n = n;
  a.grad_scale = grad_scale;
  a.beta1 = beta1;
  a.beta2 = beta2;
  a.one_minus_beta1 = 1.0f - beta1;
  a.one_minus_beta2 = 1.0f - beta2;
  a.decay = (float)(1.0 - (double)lr * (double)weight_decay);
  // beta = 0 gives c = 1; beta^step underflowing to 0 is the same. c > 0 always since beta < 1.
  a.step_size = (float)((double)lr / c1);
  a.root_c2 = (float)sqrt(c2);
  a.eps = eps;
  return backend == QUARTET_BACKEND_CPU ? cpu::adamw(a) : cuda::adamw(a);
}

}  // extern "C"
