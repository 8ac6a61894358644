// model_ops.cpp — the CPU reference of the element-wise and row-wise model ops (quartet.h, "Model ops"):
// embedding, RMSNorm, RoPE, SwiGLU, residual add, cross-entropy. The loops are the specification: plain
// FP32 in the orders of model_numerics.h, which the CUDA kernels (csrc/cuda/model_ops.cu) follow exactly.
// Every parallel_for writes disjoint outputs, so the bytes never depend on the thread count.
#include <math.h>
#include <string.h>

#include "core/model_numerics.h"
#include "core/model_ops.h"
#include "core/parallel.h"
#include "core/status.h"
#include "cpu/model_elements.h"

namespace quartet {
namespace cpu {

namespace {

// Index of the first id outside [lo, hi), or -1.
int64_t first_bad_id(const int32_t* ids, int64_t n, int64_t lo, int64_t hi) {
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < lo || ids[i] >= hi) return i;
  return -1;
}

int64_t grain_rows(int64_t width) { return width >= 4096 ? 1 : 4096 / width; }

}  // namespace

// ---- embedding ------------------------------------------------------------------------------------------

int32_t embedding_forward(const EmbeddingArgs& a) {
  int64_t bad = first_bad_id(a.tokens, a.n, 0, a.vocab);
  if (bad >= 0)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, "quartet_embedding_forward", "tokens[%lld] = %d is outside [0, vocab = %lld)",
                (long long)bad, a.tokens[bad], (long long)a.vocab);
  const int64_t d = a.dim;
  parallel_for(a.n, grain_rows(d), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const float* row = a.table + (int64_t)a.tokens[t] * d;
      for (int64_t c = 0; c < d; ++c) store_elem(a.out, a.dtype, t * d + c, row[c]);
    }
  });
  return QUARTET_OK;
}

int32_t embedding_backward(const EmbeddingArgs& a) {
  int64_t bad = first_bad_id(a.tokens, a.n, 0, a.vocab);
  if (bad >= 0)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, "quartet_embedding_backward", "tokens[%lld] = %d is outside [0, vocab = %lld)",
                (long long)bad, a.tokens[bad], (long long)a.vocab);
  const int64_t d = a.dim;
  // Threads own column ranges; each element of the table receives its tokens' rows in increasing t.
  parallel_for(d, 64, [&](int64_t cb, int64_t ce) {
    for (int64_t t = 0; t < a.n; ++t) {
      float* row = a.dtable + (int64_t)a.tokens[t] * d;
      for (int64_t c = cb; c < ce; ++c) row[c] = row[c] + load_elem(a.dout, a.dtype, t * d + c);
    }
  });
  return QUARTET_OK;
}

// ---- RMSNorm --------------------------------------------------------------------------------------------

int32_t rmsnorm_forward(const RmsNormArgs& a) {
  const int64_t d = a.dim;
  const float fd = (float)d;
  parallel_for(a.rows, grain_rows(d), [&](int64_t b, int64_t e) {
    float p[kRowLanes];
    for (int64_t r = b; r < e; ++r) {
      const int64_t base = r * d;
      for (int l = 0; l < kRowLanes; ++l) p[l] = 0.0f;
      for (int64_t c = 0; c < d; ++c) {
        float v = load_elem(a.x, a.x_dtype, base + c);
        p[c % kRowLanes] += v * v;
      }
      const float rstd = 1.0f / sqrtf(butterfly_sum<kRowLanes>(p) / fd + a.eps);
      if (a.rstd) a.rstd[r] = rstd;
      for (int64_t c = 0; c < d; ++c)
        store_elem(a.y, a.y_dtype, base + c, (load_elem(a.x, a.x_dtype, base + c) * rstd) * a.weight[c]);
    }
  });
  return QUARTET_OK;
}

int32_t rmsnorm_backward(const RmsNormArgs& a) {
  const int64_t d = a.dim, rows = a.rows;
  const float fd = (float)d;
  parallel_for(rows, grain_rows(d), [&](int64_t b, int64_t e) {
    float p[kRowLanes];
    for (int64_t r = b; r < e; ++r) {
      const int64_t base = r * d;
      const float rstd = a.rstd[r];
      for (int l = 0; l < kRowLanes; ++l) p[l] = 0.0f;
      for (int64_t c = 0; c < d; ++c) {
        float g = load_elem(a.dy, a.dy_dtype, base + c) * a.weight[c];
        float xhat = load_elem(a.x, a.x_dtype, base + c) * rstd;
        p[c % kRowLanes] += g * xhat;
      }
      const float coef = butterfly_sum<kRowLanes>(p) / fd;
      for (int64_t c = 0; c < d; ++c) {
        float g = load_elem(a.dy, a.dy_dtype, base + c) * a.weight[c];
        float xhat = load_elem(a.x, a.x_dtype, base + c) * rstd;
        float dx = rstd * (g - xhat * coef);
        if (a.accumulate_dx) dx = static_cast<float*>(a.dx)[base + c] + dx;
        store_elem(a.dx, a.dx_dtype, base + c, dx);
      }
    }
  });
  // dweight: 128-row partial sums in row order, then the partials in order (the CUDA kernels' order).
  const int64_t chunks = (rows + kNormPartialRows - 1) / kNormPartialRows;
  parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      float* part = a.scratch + k * d;
      for (int64_t c = 0; c < d; ++c) part[c] = 0.0f;
      const int64_t r1 = (k + 1) * kNormPartialRows < rows ? (k + 1) * kNormPartialRows : rows;
      for (int64_t r = k * kNormPartialRows; r < r1; ++r) {
        const float rstd = a.rstd[r];
        for (int64_t c = 0; c < d; ++c)
          part[c] += load_elem(a.dy, a.dy_dtype, r * d + c) * (load_elem(a.x, a.x_dtype, r * d + c) * rstd);
      }
    }
  });
  parallel_for(d, 256, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      float acc = a.dweight[c];
      for (int64_t k = 0; k < chunks; ++k) acc += a.scratch[k * d + c];
      a.dweight[c] = acc;
    }
  });
  return QUARTET_OK;
}

// ---- RoPE -----------------------------------------------------------------------------------------------

int32_t rope(const RopeArgs& a) {
  const int64_t half = a.head_dim / 2;
  parallel_for(a.rows, grain_rows(a.heads * a.head_dim), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t pos = t % a.seq_len;
      const float* cs = a.cos + pos * half;
      const float* sn = a.sin + pos * half;
      for (int64_t h = 0; h < a.heads; ++h) {
        const int64_t base = t * a.ld + h * a.head_dim;
        for (int64_t j = 0; j < half; ++j) {
          float x1 = load_elem(a.x, a.dtype, base + j), x2 = load_elem(a.x, a.dtype, base + half + j);
          float c = cs[j], s = sn[j];
          float y1 = a.inverse ? x1 * c + x2 * s : x1 * c - x2 * s;
          float y2 = a.inverse ? x2 * c - x1 * s : x2 * c + x1 * s;
          store_elem(a.x, a.dtype, base + j, y1);
          store_elem(a.x, a.dtype, base + half + j, y2);
        }
      }
    }
  });
  return QUARTET_OK;
}

// ---- SwiGLU ---------------------------------------------------------------------------------------------

int32_t swiglu_forward(const SwigluArgs& a) {
  const int64_t H = a.hidden;
  parallel_for(a.rows, grain_rows(H), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t j = 0; j < H; ++j) {
        float g = load_elem(a.gu, a.gu_dtype, r * 2 * H + j), u = load_elem(a.gu, a.gu_dtype, r * 2 * H + H + j);
        store_elem(a.h, a.h_dtype, r * H + j, (g * sigmoid_f32(g)) * u);
      }
  });
  return QUARTET_OK;
}

int32_t swiglu_backward(const SwigluArgs& a) {
  const int64_t H = a.hidden;
  parallel_for(a.rows, grain_rows(H), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t j = 0; j < H; ++j) {
        const int64_t ig = r * 2 * H + j, iu = ig + H;
        float g = load_elem(a.gu, a.gu_dtype, ig), u = load_elem(a.gu, a.gu_dtype, iu);
        float dh = load_elem(a.dh, a.dh_dtype, r * H + j);
        float s = sigmoid_f32(g);
        float dsilu = s * (1.0f + g * (1.0f - s));
        store_elem(a.dgu, a.dgu_dtype, ig, (dh * u) * dsilu);  // gu is read before dgu is written (aliasing allowed)
        store_elem(a.dgu, a.dgu_dtype, iu, dh * (g * s));
      }
  });
  return QUARTET_OK;
}

// ---- residual add ---------------------------------------------------------------------------------------

int32_t add(const AddArgs& a) {
  parallel_for(a.n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) store_elem(a.y, a.y_dtype, i, load_elem(a.y, a.y_dtype, i) + load_elem(a.x, a.x_dtype, i));
  });
  return QUARTET_OK;
}

// ---- cross-entropy ----------------------------------------------------------------------------------------

int32_t cross_entropy(const CrossEntropyArgs& a) {
  const int64_t V = a.vocab;
  int64_t bad = -1;
  for (int64_t r = 0; r < a.rows && bad < 0; ++r)
    if (a.targets[r] >= V) bad = r;
  if (bad >= 0)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, "quartet_cross_entropy", "targets[%lld] = %d is >= vocab = %lld (use < 0 to ignore a row)",
                (long long)bad, a.targets[bad], (long long)V);
  parallel_for(a.rows, grain_rows(V), [&](int64_t b, int64_t e) {
    float p[kCeThreads];
    for (int64_t r = b; r < e; ++r) {
      const int64_t base = r * V;
      const int32_t target = a.targets[r];
      if (target < 0) {
        a.losses[r] = 0.0f;
        if (a.compute_grad)
          for (int64_t v = 0; v < V; ++v) store_elem(a.logits, a.dtype, base + v, 0.0f);
        continue;
      }
      float m = load_elem(a.logits, a.dtype, base);
      for (int64_t v = 1; v < V; ++v) m = fmaxf(m, load_elem(a.logits, a.dtype, base + v));
      for (int t = 0; t < kCeThreads; ++t) p[t] = 0.0f;
      for (int64_t v = 0; v < V; ++v) p[v % kCeThreads] += exp_f32(load_elem(a.logits, a.dtype, base + v) - m);
      const float s = block_sum256(p);
      a.losses[r] = (log_f32(s) + m) - load_elem(a.logits, a.dtype, base + target);
      if (!a.compute_grad) continue;
      for (int64_t v = 0; v < V; ++v) {
        float prob = exp_f32(load_elem(a.logits, a.dtype, base + v) - m) / s;
        store_elem(a.logits, a.dtype, base + v, (prob - (v == target ? 1.0f : 0.0f)) * a.grad_scale);
      }
    }
  });
  return QUARTET_OK;
}

}  // namespace cpu
}  // namespace quartet
