// adamw.cpp — the CPU side of the optimizer ops: the fixed-order sum of squares behind the global gradient
// norm, and the element-wise AdamW step. Both follow the formulas of quartet.h operation by operation (float32
// RNE, no contraction: CMake builds with -ffp-contract=off), so csrc/cuda/adamw.cu returns the same bits.
#include <math.h>

#include <vector>

#include "core/optim_ops.h"
#include "core/parallel.h"
#include "core/status.h"

namespace quartet {
namespace cpu {
namespace {

constexpr int64_t kChunk = kSumSquaresChunk;

// The pairwise tree (PSUM) over one chunk of kChunk values, the values past `valid` being zeros. Adding the
// zero padding is exact, so this is the chunk's node of the tree over the whole zero-padded tensor.
template <bool kSquare, class T>
double chunk_tree(const T* x, int64_t valid) {
  double buf[kChunk];
  for (int64_t i = 0; i < valid; ++i) {
    const double d = (double)x[i];
    buf[i] = kSquare ? d * d : d;  // a float squared is exact in binary64 (48 significant bits)
  }
  for (int64_t i = valid; i < kChunk; ++i) buf[i] = 0.0;
  for (int64_t len = kChunk; len > 1; len >>= 1)
    for (int64_t i = 0; i < len / 2; ++i) buf[i] = buf[2 * i] + buf[2 * i + 1];
  return buf[0];
}

// One level of the tree: out[c] = chunk_tree(in[c*kChunk ...]) for every chunk of `in`.
template <bool kSquare, class T>
void tree_level(const T* in, int64_t n, double* out) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(chunks, 16, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const int64_t first = c * kChunk;
      const int64_t valid = n - first < kChunk ? n - first : kChunk;
      out[c] = chunk_tree<kSquare>(in + first, valid);
    }
  });
}

// The tree over a zero-padded power of two equals chunked trees of kChunk leaves, then the tree over the
// chunk results (zero-padded again), and so on until one value is left.
double tree_sum_squares(const float* x, int64_t n) {
  std::vector<double> level((size_t)((n + kChunk - 1) / kChunk));
  tree_level<true>(x, n, level.data());
  int64_t len = (int64_t)level.size();
  std::vector<double> next;
  while (len > 1) {
    next.assign((size_t)((len + kChunk - 1) / kChunk), 0.0);
    tree_level<false>(level.data(), len, next.data());
    level.swap(next);
    len = (int64_t)level.size();
  }
  return level[0];
}

}  // namespace

int32_t sum_squares(const SumSquaresArgs& a) {
  for (int32_t i = 0; i < a.count; ++i) a.sumsq[i] = tree_sum_squares(a.tensors[i], a.sizes[i]);
  return QUARTET_OK;
}

int32_t adamw(const AdamwArgs& a) {
  parallel_for(a.n, int64_t(1) << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float g = a.grad[i] * a.grad_scale;
      const float m = a.beta1 * a.m[i] + a.one_minus_beta1 * g;
      const float v = a.beta2 * a.v[i] + a.one_minus_beta2 * (g * g);
      const float decayed = a.w[i] * a.decay;
      const float denom = sqrtf(v) / a.root_c2 + a.eps;
      a.m[i] = m;
      a.v[i] = v;
      a.w[i] = decayed - a.step_size * (m / denom);
    }
  });
  return QUARTET_OK;
}

}  // namespace cpu
}  // namespace quartet
