// model_api.cpp — the C boundary of the model ops (quartet.h, "Model ops"): every argument is checked here,
// once, for both backends, and the operation is handed to csrc/cpu or csrc/cuda through model_ops.h.
#include <math.h>

#include "core/model_numerics.h"
#include "core/model_ops.h"
#include "core/ops.h"
#include "core/status.h"
#include "core/checks.h"

using namespace quartet;

namespace {





// Element counts past this could overflow the byte offsets of the kernels' int64 arithmetic.
int32_t check_elems(const char* fn, int64_t a, int64_t b, const char* what) {
  if (a > (int64_t(1) << 48) / b) return fail(QUARTET_ERR_SHAPE, fn, "%s is too large (%lld x %lld)", what, (long long)a, (long long)b);
  return QUARTET_OK;
}

#define MODEL_DISPATCH(backend, op, args) ((backend) == QUARTET_BACKEND_CPU ? cpu::op(args) : cuda::op(args))

int32_t rope_common(const char* fn, int32_t backend, void* x, int32_t dtype, int64_t rows, int64_t ld, int64_t heads,
                    int64_t head_dim, int64_t seq_len, const float* cos_table, const float* sin_table, bool inverse) {
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, x, inverse ? "dx" : "x"));
  QUARTET_TRY(check_ptr(fn, cos_table, "cos_table"));
  QUARTET_TRY(check_ptr(fn, sin_table, "sin_table"));
  QUARTET_TRY(check_dtype(fn, dtype, "dtype"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, heads, "heads"));
  QUARTET_TRY(check_positive(fn, head_dim, "head_dim"));
  QUARTET_TRY(check_positive(fn, seq_len, "seq_len"));
  if (head_dim % 2) return fail(QUARTET_ERR_SHAPE, fn, "head_dim must be even, got %lld", (long long)head_dim);
  if (ld < heads * head_dim)
    return fail(QUARTET_ERR_SHAPE, fn, "ld must be >= heads * head_dim = %lld, got %lld", (long long)(heads * head_dim), (long long)ld);
  QUARTET_TRY(check_elems(fn, rows, ld, "rows * ld"));
  RopeArgs a{x, dtype, rows, ld, heads, head_dim, seq_len, cos_table, sin_table, inverse};
  return MODEL_DISPATCH(backend, rope, a);
}

int32_t attention_shape(const char* fn, int32_t backend, int32_t dtype, int64_t batch, int64_t seq, int64_t heads,
                        int64_t head_dim) {
  QUARTET_TRY(check_dtype(fn, dtype, "dtype"));
  QUARTET_TRY(check_positive(fn, batch, "batch"));
  QUARTET_TRY(check_positive(fn, seq, "seq"));
  QUARTET_TRY(check_positive(fn, heads, "heads"));
  QUARTET_TRY(check_positive(fn, head_dim, "head_dim"));
  QUARTET_TRY(check_elems(fn, batch * seq, 3 * heads * head_dim, "batch * seq * 3 * heads * head_dim"));
  if (backend == QUARTET_BACKEND_CUDA) {
    if (dtype != QUARTET_DTYPE_BF16)
      return fail(QUARTET_ERR_UNSUPPORTED, fn, "the CUDA attention kernel takes bf16 data (dtype 1), got %d", dtype);
    if (head_dim != 64 && head_dim != 128)
      return fail(QUARTET_ERR_UNSUPPORTED, fn, "the CUDA attention kernel supports head_dim 64 or 128, got %lld", (long long)head_dim);
  }
  return QUARTET_OK;
}

}  // namespace

extern "C" {

QUARTET_API int32_t quartet_embedding_forward(int32_t backend, const int32_t* tokens, int64_t n, const float* table,
                                              int64_t vocab, int64_t dim, void* out, int32_t out_dtype) {
  const char* fn = "quartet_embedding_forward";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, tokens, "tokens"));
  QUARTET_TRY(check_ptr(fn, table, "table"));
  QUARTET_TRY(check_ptr(fn, out, "out"));
  QUARTET_TRY(check_dtype(fn, out_dtype, "out_dtype"));
  QUARTET_TRY(check_positive(fn, n, "n"));
  QUARTET_TRY(check_positive(fn, vocab, "vocab"));
  QUARTET_TRY(check_positive(fn, dim, "dim"));
  if (vocab > INT32_MAX) return fail(QUARTET_ERR_SHAPE, fn, "vocab must fit int32 ids, got %lld", (long long)vocab);
  QUARTET_TRY(check_elems(fn, n > vocab ? n : vocab, dim, "rows * dim"));
  EmbeddingArgs a{tokens, n, vocab, dim, table, nullptr, out, nullptr, out_dtype};
  return MODEL_DISPATCH(backend, embedding_forward, a);
}

QUARTET_API int32_t quartet_embedding_backward(int32_t backend, const int32_t* tokens, int64_t n, const void* dout,
                                               int32_t dout_dtype, int64_t vocab, int64_t dim, float* dtable) {
  const char* fn = "quartet_embedding_backward";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, tokens, "tokens"));
  QUARTET_TRY(check_ptr(fn, dout, "dout"));
  QUARTET_TRY(check_ptr(fn, dtable, "dtable"));
  QUARTET_TRY(check_dtype(fn, dout_dtype, "dout_dtype"));
  QUARTET_TRY(check_positive(fn, n, "n"));
  QUARTET_TRY(check_positive(fn, vocab, "vocab"));
  QUARTET_TRY(check_positive(fn, dim, "dim"));
  if (vocab > INT32_MAX) return fail(QUARTET_ERR_SHAPE, fn, "vocab must fit int32 ids, got %lld", (long long)vocab);
  QUARTET_TRY(check_elems(fn, n > vocab ? n : vocab, dim, "rows * dim"));
  EmbeddingArgs a{tokens, n, vocab, dim, nullptr, dtable, nullptr, dout, dout_dtype};
  return MODEL_DISPATCH(backend, embedding_backward, a);
}

QUARTET_API int32_t quartet_rmsnorm_forward(int32_t backend, const void* x, int32_t x_dtype, int64_t rows,
                                            int64_t dim, const float* weight, float eps, void* y, int32_t y_dtype,
                                            float* rstd) {
  const char* fn = "quartet_rmsnorm_forward";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, x, "x"));
  QUARTET_TRY(check_ptr(fn, weight, "weight"));
  QUARTET_TRY(check_ptr(fn, y, "y"));
  QUARTET_TRY(check_dtype(fn, x_dtype, "x_dtype"));
  QUARTET_TRY(check_dtype(fn, y_dtype, "y_dtype"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, dim, "dim"));
  QUARTET_TRY(check_elems(fn, rows, dim, "rows * dim"));
  if (!is_finite(eps) || !(eps > 0.0f)) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "eps must be finite and > 0, got %g", (double)eps);
  if (x == y && x_dtype != y_dtype) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "y may alias x only when y_dtype == x_dtype");
  RmsNormArgs a{};
  a.x = x;
  a.x_dtype = x_dtype;
  a.rows = rows;
  a.dim = dim;
  a.weight = weight;
  a.eps = eps;
  a.rstd = rstd;
  a.y = y;
  a.y_dtype = y_dtype;
  return MODEL_DISPATCH(backend, rmsnorm_forward, a);
}

QUARTET_API int32_t quartet_rmsnorm_scratch_elems(int64_t rows, int64_t dim, int64_t* elems) {
  const char* fn = "quartet_rmsnorm_scratch_elems";
  QUARTET_TRY(check_ptr(fn, elems, "elems"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, dim, "dim"));
  *elems = ((rows + kNormPartialRows - 1) / kNormPartialRows) * dim;
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_rmsnorm_backward(int32_t backend, const void* x, int32_t x_dtype, int64_t rows,
                                             int64_t dim, const float* weight, const float* rstd, const void* dy,
                                             int32_t dy_dtype, void* dx, int32_t dx_dtype, int32_t accumulate_dx,
                                             float* dweight, float* scratch) {
  const char* fn = "quartet_rmsnorm_backward";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, x, "x"));
  QUARTET_TRY(check_ptr(fn, weight, "weight"));
  QUARTET_TRY(check_ptr(fn, rstd, "rstd"));
  QUARTET_TRY(check_ptr(fn, dy, "dy"));
  QUARTET_TRY(check_ptr(fn, dx, "dx"));
  QUARTET_TRY(check_ptr(fn, dweight, "dweight"));
  QUARTET_TRY(check_ptr(fn, scratch, "scratch"));
  QUARTET_TRY(check_dtype(fn, x_dtype, "x_dtype"));
  QUARTET_TRY(check_dtype(fn, dy_dtype, "dy_dtype"));
  QUARTET_TRY(check_dtype(fn, dx_dtype, "dx_dtype"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, dim, "dim"));
  QUARTET_TRY(check_elems(fn, rows, dim, "rows * dim"));
  if (accumulate_dx != 0 && accumulate_dx != 1)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "accumulate_dx must be 0 or 1, got %d", accumulate_dx);
  if (accumulate_dx && dx_dtype != QUARTET_DTYPE_F32)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "accumulate_dx = 1 needs an f32 dx");
  if (dx == x || (const void*)dx == (const void*)weight)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "dx must not alias x or weight");
  RmsNormArgs a{};
  a.x = x;
  a.x_dtype = x_dtype;
  a.rows = rows;
  a.dim = dim;
  a.weight = weight;
  a.rstd = const_cast<float*>(rstd);
  a.dy = dy;
  a.dy_dtype = dy_dtype;
  a.dx = dx;
  a.dx_dtype = dx_dtype;
  a.accumulate_dx = accumulate_dx != 0;
  a.dweight = dweight;
  a.scratch = scratch;
  return MODEL_DISPATCH(backend, rmsnorm_backward, a);
}

QUARTET_API int32_t quartet_rope_table(int64_t seq_len, int64_t head_dim, double theta, float* cos_table,
                                       float* sin_table) {
  const char* fn = "quartet_rope_table";
  QUARTET_TRY(check_ptr(fn, cos_table, "cos_table"));
  QUARTET_TRY(check_ptr(fn, sin_table, "sin_table"));
  QUARTET_TRY(check_positive(fn, seq_len, "seq_len"));
  QUARTET_TRY(check_positive(fn, head_dim, "head_dim"));
  if (head_dim % 2) return fail(QUARTET_ERR_SHAPE, fn, "head_dim must be even, got %lld", (long long)head_dim);
  if (!(theta > 1.0) || !isfinite(theta)) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "theta must be finite and > 1, got %g", theta);
  const int64_t half = head_dim / 2;
  for (int64_t j = 0; j < half; ++j) {
    const double inv_freq = pow(theta, -2.0 * (double)j / (double)head_dim);
    for (int64_t p = 0; p < seq_len; ++p) {
      const double angle = (double)p * inv_freq;
      cos_table[p * half + j] = (float)cos(angle);
      sin_table[p * half + j] = (float)sin(angle);
    }
  }
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_rope_forward(int32_t backend, void* x, int32_t dtype, int64_t rows, int64_t ld,
                                         int64_t heads, int64_t head_dim, int64_t seq_len, const float* cos_table,
                                         const float* sin_table) {
  return rope_common("quartet_rope_forward", backend, x, dtype, rows, ld, heads, head_dim, seq_len, cos_table,
                     sin_table, false);
}

QUARTET_API int32_t quartet_rope_backward(int32_t backend, void* dx, int32_t dtype, int64_t rows, int64_t ld,
                                          int64_t heads, int64_t head_dim, int64_t seq_len, const float* cos_table,
                                          const float* sin_table) {
  return rope_common("quartet_rope_backward", backend, dx, dtype, rows, ld, heads, head_dim, seq_len, cos_table,
                     sin_table, true);
}

QUARTET_API int32_t quartet_attention_forward(int32_t backend, const void* qkv, int32_t dtype, int64_t batch,
                                              int64_t seq, int64_t heads, int64_t head_dim, void* out, float* lse) {
  const char* fn = "quartet_attention_forward";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, qkv, "qkv"));
  QUARTET_TRY(check_ptr(fn, out, "out"));
  QUARTET_TRY(check_ptr(fn, lse, "lse"));
  QUARTET_TRY(attention_shape(fn, backend, dtype, batch, seq, heads, head_dim));
  if (out == qkv) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "out must not alias qkv");
  AttentionArgs a{};
  a.dtype = dtype;
  a.batch = batch;
  a.seq = seq;
  a.heads = heads;
  a.head_dim = head_dim;
  a.qkv = qkv;
  a.out = out;
  a.lse = lse;
  return MODEL_DISPATCH(backend, attention_forward, a);
}

QUARTET_API int32_t quartet_attention_backward(int32_t backend, const void* qkv, const void* out, const void* dout,
                                               const float* lse, int32_t dtype, int64_t batch, int64_t seq,
                                               int64_t heads, int64_t head_dim, void* dqkv, float* delta) {
  const char* fn = "quartet_attention_backward";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, qkv, "qkv"));
  QUARTET_TRY(check_ptr(fn, out, "out"));
  QUARTET_TRY(check_ptr(fn, dout, "dout"));
  QUARTET_TRY(check_ptr(fn, lse, "lse"));
  QUARTET_TRY(check_ptr(fn, dqkv, "dqkv"));
  QUARTET_TRY(check_ptr(fn, delta, "delta"));
  QUARTET_TRY(attention_shape(fn, backend, dtype, batch, seq, heads, head_dim));
  if (dqkv == qkv || dqkv == out || dqkv == dout)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "dqkv must not alias qkv, out or dout");
  AttentionArgs a{};
  a.dtype = dtype;
  a.batch = batch;
  a.seq = seq;
  a.heads = heads;
  a.head_dim = head_dim;
  a.qkv = qkv;
  a.lse = const_cast<float*>(lse);
  a.out_saved = out;
  a.dout = dout;
  a.dqkv = dqkv;
  a.delta = delta;
  return MODEL_DISPATCH(backend, attention_backward, a);
}

QUARTET_API int32_t quartet_swiglu_forward(int32_t backend, const void* gu, int32_t gu_dtype, int64_t rows,
                                           int64_t hidden, void* h, int32_t h_dtype) {
  const char* fn = "quartet_swiglu_forward";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, gu, "gu"));
  QUARTET_TRY(check_ptr(fn, h, "h"));
  QUARTET_TRY(check_dtype(fn, gu_dtype, "gu_dtype"));
  QUARTET_TRY(check_dtype(fn, h_dtype, "h_dtype"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, hidden, "hidden"));
  QUARTET_TRY(check_elems(fn, rows, 2 * hidden, "rows * 2 * hidden"));
  if (h == gu) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "h must not alias gu");
  SwigluArgs a{};
  a.gu = gu;
  a.gu_dtype = gu_dtype;
  a.rows = rows;
  a.hidden = hidden;
  a.h = h;
  a.h_dtype = h_dtype;
  return MODEL_DISPATCH(backend, swiglu_forward, a);
}

QUARTET_API int32_t quartet_swiglu_backward(int32_t backend, const void* gu, int32_t gu_dtype, const void* dh,
                                            int32_t dh_dtype, int64_t rows, int64_t hidden, void* dgu,
                                            int32_t dgu_dtype) {
  const char* fn = "quartet_swiglu_backward";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, gu, "gu"));
  QUARTET_TRY(check_ptr(fn, dh, "dh"));
  QUARTET_TRY(check_ptr(fn, dgu, "dgu"));
  QUARTET_TRY(check_dtype(fn, gu_dtype, "gu_dtype"));
  QUARTET_TRY(check_dtype(fn, dh_dtype, "dh_dtype"));
  QUARTET_TRY(check_dtype(fn, dgu_dtype, "dgu_dtype"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, hidden, "hidden"));
  QUARTET_TRY(check_elems(fn, rows, 2 * hidden, "rows * 2 * hidden"));
  if (dgu == dh) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "dgu must not alias dh");
  if (dgu == gu && dgu_dtype != gu_dtype)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "dgu may alias gu only when dgu_dtype == gu_dtype");
  SwigluArgs a{};
  a.gu = gu;
  a.gu_dtype = gu_dtype;
  a.rows = rows;
  a.hidden = hidden;
  a.dh = dh;
  a.dh_dtype = dh_dtype;
  a.dgu = dgu;
  a.dgu_dtype = dgu_dtype;
  return MODEL_DISPATCH(backend, swiglu_backward, a);
}

QUARTET_API int32_t quartet_convert(int32_t backend, const void* x, int32_t x_dtype, void* out, int32_t out_dtype,
                                    int64_t n) {
  const char* fn = "quartet_convert";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, x, "x"));
  QUARTET_TRY(check_ptr(fn, out, "out"));
  QUARTET_TRY(check_dtype(fn, x_dtype, "x_dtype"));
  QUARTET_TRY(check_dtype(fn, out_dtype, "out_dtype"));
  QUARTET_TRY(check_positive(fn, n, "n"));
  QUARTET_TRY(check_elems(fn, n, 1, "n"));
  if (x == (const void*)out && x_dtype != out_dtype)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "out may alias x only when out_dtype == x_dtype");
  ConvertArgs a{x, x_dtype, out, out_dtype, n};
  return MODEL_DISPATCH(backend, convert, a);
}

QUARTET_API int32_t quartet_add(int32_t backend, void* y, int32_t y_dtype, const void* x, int32_t x_dtype, int64_t n) {
  const char* fn = "quartet_add";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, y, "y"));
  QUARTET_TRY(check_ptr(fn, x, "x"));
  QUARTET_TRY(check_dtype(fn, y_dtype, "y_dtype"));
  QUARTET_TRY(check_dtype(fn, x_dtype, "x_dtype"));
  QUARTET_TRY(check_positive(fn, n, "n"));
  QUARTET_TRY(check_elems(fn, n, 1, "n"));
  if ((const void*)y == x && y_dtype != x_dtype)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "x may alias y only when x_dtype == y_dtype");
  AddArgs a{y, y_dtype, x, x_dtype, n};
  return MODEL_DISPATCH(backend, add, a);
}

QUARTET_API int32_t quartet_cross_entropy(int32_t backend, void* logits, int32_t dtype, int64_t rows, int64_t vocab,
                                          const int32_t* targets, float grad_scale, float* losses,
                                          int32_t compute_grad) {
  const char* fn = "quartet_cross_entropy";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, logits, "logits"));
  QUARTET_TRY(check_ptr(fn, targets, "targets"));
  QUARTET_TRY(check_ptr(fn, losses, "losses"));
  QUARTET_TRY(check_dtype(fn, dtype, "dtype"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, vocab, "vocab"));
  if (vocab > INT32_MAX) return fail(QUARTET_ERR_SHAPE, fn, "vocab must fit int32 ids, got %lld", (long long)vocab);
  QUARTET_TRY(check_elems(fn, rows, vocab, "rows * vocab"));
  if (compute_grad != 0 && compute_grad != 1)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "compute_grad must be 0 or 1, got %d", compute_grad);
  if (!is_finite(grad_scale)) return fail(QUARTET_ERR_NON_FINITE, fn, "grad_scale must be finite");
  CrossEntropyArgs a{logits, dtype, rows, vocab, targets, grad_scale, losses, compute_grad != 0};
  return MODEL_DISPATCH(backend, cross_entropy, a);
}

}  // extern "C"
