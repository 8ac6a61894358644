// attention.cpp — the CPU reference of causal multi-head attention (quartet.h, quartet_attention_*): exact
// FP32 softmax, one query (or key) row at a time. It is the specification the CUDA flash kernel
// (csrc/cuda/attention_flash.cu) is compared with.
//
// Forward, per (batch b, head h, query i), scale c = 1/sqrt(head_dim):
//   s_j = c (q_i . k_j) for j <= i;  m = max s;  p_j = exp(s_j - m);  l = sum p_j;
//   out_i = (sum_j p_j v_j) / l;  lse_i = m + ln l.
// Backward, with delta_i = dout_i . out_i and P_ij = exp(s_ij - lse_i), dS_ij = P_ij (dout_i . v_j - delta_i):
//   dq_i = c sum_j dS_ij k_j,  dk_j = c sum_i dS_ij q_i,  dv_j = sum_i P_ij dout_i.
// dq is computed per query row and dk, dv per key row (each recomputing P), so every output is written by
// one task and summed in a fixed order: no atomics, results independent of the thread count.
#include <math.h>

#include <vector>

#include "core/model_numerics.h"
#include "core/model_ops.h"
#include "core/parallel.h"
#include "core/status.h"
#include "cpu/model_elements.h"

namespace quartet {
namespace cpu {

namespace {

struct Layout {
  int64_t B, S, H, hd, D;  // D = H * hd
  int32_t dtype;
  // element offsets of q, k, v of token t (= b * S + i), head h, in the fused qkv buffer
  int64_t q(int64_t t, int64_t h) const { return t * 3 * D + h * hd; }
  int64_t k(int64_t t, int64_t h) const { return t * 3 * D + D + h * hd; }
  int64_t v(int64_t t, int64_t h) const { return t * 3 * D + 2 * D + h * hd; }
  int64_t o(int64_t t, int64_t h) const { return t * D + h * hd; }
};

Layout layout_of(const AttentionArgs& a) {
  return Layout{a.batch, a.seq, a.heads, a.head_dim, a.heads * a.head_dim, a.dtype};
}

// Per-thread scratch, grown on first use and then reused (no allocation per call in steady state).
float* thread_scratch(int64_t n) {
  thread_local std::vector<float> buf;
  if ((int64_t)buf.size() < n) buf.resize((size_t)n);
  return buf.data();
}

void load_row(const void* p, int32_t dtype, int64_t off, int64_t n, float* dst) {
  for (int64_t d = 0; d < n; ++d) dst[d] = load_elem(p, dtype, off + d);
}

float dot(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
  for (int64_t d = 0; d < n; ++d) acc += a[d] * b[d];
  return acc;
}

}  // namespace

int32_t attention_forward(const AttentionArgs& a) {
  const Layout L = layout_of(a);
  const float scale = 1.0f / sqrtf((float)L.hd);
  parallel_for(L.B * L.H * L.S, 4, [&](int64_t rb, int64_t re) {
    float* q = thread_scratch(4 * L.hd + L.S);
    float* kv = q + L.hd;
    float* o = kv + L.hd;
    float* s = o + L.hd;
    for (int64_t row = rb; row < re; ++row) {
      const int64_t b = row / (L.H * L.S), h = (row / L.S) % L.H, i = row % L.S;
      const int64_t ti = b * L.S + i;
      load_row(a.qkv, L.dtype, L.q(ti, h), L.hd, q);
      float m = -INFINITY;
      for (int64_t j = 0; j <= i; ++j) {
        load_row(a.qkv, L.dtype, L.k(b * L.S + j, h), L.hd, kv);
        s[j] = dot(q, kv, L.hd) * scale;
        m = fmaxf(m, s[j]);
      }
      float l = 0.0f;
      for (int64_t d = 0; d < L.hd; ++d) o[d] = 0.0f;
      for (int64_t j = 0; j <= i; ++j) {
        const float p = exp_f32(s[j] - m);
        l += p;
        load_row(a.qkv, L.dtype, L.v(b * L.S + j, h), L.hd, kv);
        for (int64_t d = 0; d < L.hd; ++d) o[d] += p * kv[d];
      }
      for (int64_t d = 0; d < L.hd; ++d) store_elem(a.out, L.dtype, L.o(ti, h) + d, o[d] / l);
      a.lse[row] = m + log_f32(l);
    }
  });
  return QUARTET_OK;
}

int32_t attention_backward(const AttentionArgs& a) {
  const Layout L = layout_of(a);
  const float scale = 1.0f / sqrtf((float)L.hd);
  const int64_t rows = L.B * L.H * L.S;
  // delta_i = dout_i . out_i
  parallel_for(rows, 16, [&](int64_t rb, int64_t re) {
    for (int64_t row = rb; row < re; ++row) {
      const int64_t b = row / (L.H * L.S), h = (row / L.S) % L.H, i = row % L.S;
      const int64_t off = L.o(b * L.S + i, h);
      float acc = 0.0f;
      for (int64_t d = 0; d < L.hd; ++d) acc += load_elem(a.dout, L.dtype, off + d) * load_elem(a.out_saved, L.dtype, off + d);
      a.delta[row] = acc;
    }
  });
  // dq, one query row per task: keys j <= i
  parallel_for(rows, 4, [&](int64_t rb, int64_t re) {
    float* q = thread_scratch(5 * L.hd);
    float* dout = q + L.hd;
    float* kr = dout + L.hd;
    float* vr = kr + L.hd;
    float* dq = vr + L.hd;
    for (int64_t row = rb; row < re; ++row) {
      const int64_t b = row / (L.H * L.S), h = (row / L.S) % L.H, i = row % L.S;
      const int64_t ti = b * L.S + i;
      load_row(a.qkv, L.dtype, L.q(ti, h), L.hd, q);
      load_row(a.dout, L.dtype, L.o(ti, h), L.hd, dout);
      for (int64_t d = 0; d < L.hd; ++d) dq[d] = 0.0f;
      for (int64_t j = 0; j <= i; ++j) {
        const int64_t tj = b * L.S + j;
        load_row(a.qkv, L.dtype, L.k(tj, h), L.hd, kr);
        load_row(a.qkv, L.dtype, L.v(tj, h), L.hd, vr);
        const float p = exp_f32(dot(q, kr, L.hd) * scale - a.lse[row]);
        const float ds = p * (dot(dout, vr, L.hd) - a.delta[row]);
        for (int64_t d = 0; d < L.hd; ++d) dq[d] += ds * kr[d];
      }
      for (int64_t d = 0; d < L.hd; ++d) store_elem(a.dqkv, L.dtype, L.q(ti, h) + d, dq[d] * scale);
    }
  });
  // dk and dv, one key row per task: queries i >= j
  parallel_for(rows, 4, [&](int64_t rb, int64_t re) {
    float* kr = thread_scratch(6 * L.hd);
    float* vr = kr + L.hd;
    float* q = vr + L.hd;
    float* dout = q + L.hd;
    float* dk = dout + L.hd;
    float* dv = dk + L.hd;
    for (int64_t row = rb; row < re; ++row) {
      const int64_t b = row / (L.H * L.S), h = (row / L.S) % L.H, j = row % L.S;
      const int64_t tj = b * L.S + j;
      load_row(a.qkv, L.dtype, L.k(tj, h), L.hd, kr);
      load_row(a.qkv, L.dtype, L.v(tj, h), L.hd, vr);
      for (int64_t d = 0; d < L.hd; ++d) dk[d] = dv[d] = 0.0f;
      for (int64_t i = j; i < L.S; ++i) {
        const int64_t ti = b * L.S + i, qrow = (b * L.H + h) * L.S + i;
        load_row(a.qkv, L.dtype, L.q(ti, h), L.hd, q);
        load_row(a.dout, L.dtype, L.o(ti, h), L.hd, dout);
        const float p = exp_f32(dot(q, kr, L.hd) * scale - a.lse[qrow]);
        const float ds = p * (dot(dout, vr, L.hd) - a.delta[qrow]);
        for (int64_t d = 0; d < L.hd; ++d) {
          dv[d] += p * dout[d];
          dk[d] += ds * q[d];
        }
      }
      for (int64_t d = 0; d < L.hd; ++d) {
        store_elem(a.dqkv, L.dtype, L.k(tj, h) + d, dk[d] * scale);
        store_elem(a.dqkv, L.dtype, L.v(tj, h) + d, dv[d]);
      }
    }
  });
  return QUARTET_OK;
}

}  // namespace cpu
}  // namespace quartet
