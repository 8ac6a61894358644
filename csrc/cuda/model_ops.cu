// model_ops.cu — the element-wise and row-wise model ops on the GPU (twins of csrc/cpu/model_ops.cpp):
// embedding, RMSNorm, RoPE, SwiGLU, residual add, cross-entropy. Each thread computes exactly what the CPU
// loop computes for its elements, with the shared arithmetic of model_numerics.h and the same reduction
// orders (a warp's xor butterfly over 32 strided partials; a block's over 8 warps), so the bytes agree with
// the CPU backend. No atomics on floats: every output element is owned by one thread.
#include "core/model_numerics.h"
#include "core/model_ops.h"
#include "cuda/cuda_common.cuh"

namespace quartet {
namespace cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kEmbedRowsPerBlock = 64;  // vocabulary rows per block of the embedding backward

__device__ __forceinline__ float load_elem(const void* p, int32_t dt, int64_t i) {
  return dt == QUARTET_DTYPE_BF16 ? bf16_to_f32(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}
__device__ __forceinline__ void store_elem(void* p, int32_t dt, int64_t i, float v) {
  if (dt == QUARTET_DTYPE_BF16) static_cast<uint16_t*>(p)[i] = f32_to_bf16(v);
  else static_cast<float*>(p)[i] = v;
}

// The xor butterfly of model_numerics.h over the 32 lanes of a warp (every lane ends with the sum).
__device__ __forceinline__ float warp_butterfly(float v) {
#pragma unroll
  for (int off = 16; off >= 1; off >>= 1) v = v + __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

unsigned blocks_for(int64_t work, int64_t per_block) {
  int64_t b = (work + per_block - 1) / per_block;
  return (unsigned)(b < 1 ? 1 : b > (int64_t(1) << 20) ? (int64_t(1) << 20) : b);
}

int32_t status_ptr(const char* fn, int32_t** st) {
  *st = device_status();
  if (!*st) return fail(QUARTET_ERR_CUDA, fn, "cannot allocate the device status word");
  return QUARTET_OK;
}

// ---- embedding ------------------------------------------------------------------------------------------

__global__ void embedding_forward_kernel(const int32_t* tokens, int64_t n, const float* table, int64_t V, int64_t d,
                                         void* out, int32_t dt, int32_t* status) {
  for (int64_t t = blockIdx.x; t < n; t += gridDim.x) {
    const int32_t id = tokens[t];
    const bool ok = id >= 0 && id < V;
    if (!ok && threadIdx.x == 0) quartet_report(status, QUARTET_ERR_INVALID_ARGUMENT);
    for (int64_t c = threadIdx.x; c < d; c += blockDim.x) store_elem(out, dt, t * d + c, ok ? table[(int64_t)id * d + c] : 0.0f);
  }
}

// Block b owns vocabulary rows [64 b, 64 b + 64). It scans the tokens in chunks of 256, compacts the positions
// whose id falls in its rows (in increasing t, by a ballot prefix count), then adds their gradient rows; thread
// j owns columns j, j + 256, ... of every row, so each table element receives its terms in increasing t — the
// CPU's order — without atomics.
__global__ void __launch_bounds__(kThreads) embedding_backward_kernel(const int32_t* tokens, int64_t n, const void* dout,
                                                                      int32_t dt, int64_t V, int64_t d, float* dtable,
                                                                      int32_t* status) {
  __shared__ int32_t list[kThreads];
  __shared__ int32_t warp_counts[kThreads / 32];
  const int64_t v0 = (int64_t)blockIdx.x * kEmbedRowsPerBlock;
  const int64_t v1 = v0 + kEmbedRowsPerBlock < V ? v0 + kEmbedRowsPerBlock : V;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t base = 0; base < n; base += kThreads) {
    const int64_t t = base + threadIdx.x;
    const int32_t id = t < n ? tokens[t] : -1;
    if (blockIdx.x == 0 && t < n && (id < 0 || id >= V)) quartet_report(status, QUARTET_ERR_INVALID_ARGUMENT);
    const bool match = t < n && id >= v0 && id < v1;
    const unsigned ballot = __ballot_sync(0xffffffffu, match);
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    int offset = 0, total = 0;
#pragma unroll
    for (int w = 0; w < kThreads / 32; ++w) {
      const int c = warp_counts[w];
      offset += w < warp ? c : 0;
      total += c;
    }
    if (match) list[offset + __popc(ballot & ((1u << lane) - 1u))] = (int32_t)threadIdx.x;
    __syncthreads();
    for (int k = 0; k < total; ++k) {
      const int64_t tt = base + list[k];
      float* row = dtable + (int64_t)tokens[tt] * d;
      for (int64_t c = threadIdx.x; c < d; c += kThreads) row[c] = row[c] + load_elem(dout, dt, tt * d + c);
    }
    __syncthreads();
  }
}

// ---- RMSNorm (one warp per row) -------------------------------------------------------------------------

__global__ void __launch_bounds__(kThreads) rmsnorm_forward_kernel(const void* x, int32_t xdt, int64_t rows, int64_t d,
                                                                   const float* w, float eps, void* y, int32_t ydt,
                                                                   float* rstd_out) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t)gridDim.x * (kThreads / 32);
  const float fd = (float)d;
  for (int64_t r = (int64_t)blockIdx.x * (kThreads / 32) + (threadIdx.x >> 5); r < rows; r += warps) {
    const int64_t base = r * d;
    float p = 0.0f;
    for (int64_t c = lane; c < d; c += 32) {
      const float v = load_elem(x, xdt, base + c);
      p += v * v;
    }
    const float rstd = 1.0f / sqrtf(warp_butterfly(p) / fd + eps);
    if (rstd_out && lane == 0) rstd_out[r] = rstd;
    for (int64_t c = lane; c < d; c += 32) store_elem(y, ydt, base + c, (load_elem(x, xdt, base + c) * rstd) * w[c]);
  }
}

__global__ void __launch_bounds__(kThreads) rmsnorm_backward_dx_kernel(const RmsNormArgs a) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t)gridDim.x * (kThreads / 32), d = a.dim;
  const float fd = (float)d;
  for (int64_t r = (int64_t)blockIdx.x * (kThreads / 32) + (threadIdx.x >> 5); r < a.rows; r += warps) {
    const int64_t base = r * d;
    const float rstd = a.rstd[r];
    float p = 0.0f;
    for (int64_t c = lane; c < d; c += 32) {
      const float g = load_elem(a.dy, a.dy_dtype, base + c) * a.weight[c];
      const float xhat = load_elem(a.x, a.x_dtype, base + c) * rstd;
      p += g * xhat;
    }
    const float coef = warp_butterfly(p) / fd;
    for (int64_t c = lane; c < d; c += 32) {
      const float g = load_elem(a.dy, a.dy_dtype, base + c) * a.weight[c];
      const float xhat = load_elem(a.x, a.x_dtype, base + c) * rstd;
      float dx = rstd * (g - xhat * coef);
      if (a.accumulate_dx) dx = static_cast<float*>(a.dx)[base + c] + dx;
      store_elem(a.dx, a.dx_dtype, base + c, dx);
    }
  }
}

// Partial weight gradients of 128-row chunks: block (chunk k, column slab), one thread per column.
__global__ void __launch_bounds__(kThreads) rmsnorm_backward_partial_kernel(const RmsNormArgs a) {
  const int64_t d = a.dim, k = blockIdx.x, c = (int64_t)blockIdx.y * kThreads + threadIdx.x;
  if (c >= d) return;
  const int64_t r0 = k * kNormPartialRows;
  const int64_t r1 = r0 + kNormPartialRows < a.rows ? r0 + kNormPartialRows : a.rows;
  float acc = 0.0f;
  for (int64_t r = r0; r < r1; ++r) acc += load_elem(a.dy, a.dy_dtype, r * d + c) * (load_elem(a.x, a.x_dtype, r * d + c) * a.rstd[r]);
  a.scratch[k * d + c] = acc;
}

__global__ void __launch_bounds__(kThreads) rmsnorm_backward_reduce_kernel(const float* scratch, int64_t chunks, int64_t d,
                                                                           float* dweight) {
  const int64_t c = (int64_t)blockIdx.x * kThreads + threadIdx.x;
  if (c >= d) return;
  float acc = dweight[c];
  for (int64_t k = 0; k < chunks; ++k) acc += scratch[k * d + c];
  dweight[c] = acc;
}

// ---- RoPE, SwiGLU, add ----------------------------------------------------------------------------------

__global__ void rope_kernel(const RopeArgs a) {
  const int64_t half = a.head_dim / 2, per_row = a.heads * half, total = a.rows * per_row;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = i / per_row, h = (i % per_row) / half, j = i % half;
    const int64_t pos = t % a.seq_len;
    const int64_t i1 = t * a.ld + h * a.head_dim + j, i2 = i1 + half;
    const float x1 = load_elem(a.x, a.dtype, i1), x2 = load_elem(a.x, a.dtype, i2);
    const float c = a.cos[pos * half + j], s = a.sin[pos * half + j];
    const float y1 = a.inverse ? x1 * c + x2 * s : x1 * c - x2 * s;
    const float y2 = a.inverse ? x2 * c - x1 * s : x2 * c + x1 * s;
    store_elem(a.x, a.dtype, i1, y1);
    store_elem(a.x, a.dtype, i2, y2);
  }
}

__global__ void swiglu_forward_kernel(const SwigluArgs a) {
  const int64_t H = a.hidden, total = a.rows * H;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / H, j = i % H;
    const float g = load_elem(a.gu, a.gu_dtype, r * 2 * H + j), u = load_elem(a.gu, a.gu_dtype, r * 2 * H + H + j);
    store_elem(a.h, a.h_dtype, i, (g * sigmoid_f32(g)) * u);
  }
}

__global__ void swiglu_backward_kernel(const SwigluArgs a) {
  const int64_t H = a.hidden, total = a.rows * H;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / H, j = i % H, ig = r * 2 * H + j, iu = ig + H;
    const float g = load_elem(a.gu, a.gu_dtype, ig), u = load_elem(a.gu, a.gu_dtype, iu);
    const float dh = load_elem(a.dh, a.dh_dtype, i);
    const float s = sigmoid_f32(g);
    const float dsilu = s * (1.0f + g * (1.0f - s));
    store_elem(a.dgu, a.dgu_dtype, ig, (dh * u) * dsilu);
    store_elem(a.dgu, a.dgu_dtype, iu, dh * (g * s));
  }
}

__global__ void add_kernel(const AddArgs a) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < a.n; i += (int64_t)gridDim.x * blockDim.x)
    store_elem(a.y, a.y_dtype, i, load_elem(a.y, a.y_dtype, i) + load_elem(a.x, a.x_dtype, i));
}

// ---- cross-entropy (one block of 256 per row) ----------------------------------------------------------

__global__ void __launch_bounds__(kThreads) cross_entropy_kernel(const CrossEntropyArgs a, int32_t* status) {
  __shared__ float warp_vals[kThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t V = a.vocab;
  for (int64_t r = blockIdx.x; r < a.rows; r += gridDim.x) {
    const int64_t base = r * V;
    const int32_t target = a.targets[r];
    if (target >= V || target < 0) {
      if (target >= V && threadIdx.x == 0) quartet_report(status, QUARTET_ERR_INVALID_ARGUMENT);
      if (threadIdx.x == 0) a.losses[r] = 0.0f;
      if (a.compute_grad)
        for (int64_t v = threadIdx.x; v < V; v += kThreads) store_elem(a.logits, a.dtype, base + v, 0.0f);
      continue;
    }
    // max (exact, any order)
    float m = -INFINITY;
    for (int64_t v = threadIdx.x; v < V; v += kThreads) m = fmaxf(m, load_elem(a.logits, a.dtype, base + v));
#pragma unroll
    for (int off = 16; off >= 1; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    if (lane == 0) warp_vals[warp] = m;
    __syncthreads();
    m = warp_vals[0];
#pragma unroll
    for (int w = 1; w < kThreads / 32; ++w) m = fmaxf(m, warp_vals[w]);
    __syncthreads();
    // sum of exp(z - m): 256 strided partials, butterfly within each warp, then over the 8 warps (block_sum256)
    float p = 0.0f;
    for (int64_t v = threadIdx.x; v < V; v += kThreads) p += exp_f32(load_elem(a.logits, a.dtype, base + v) - m);
    p = warp_butterfly(p);
    if (lane == 0) warp_vals[warp] = p;
    __syncthreads();
    float w8[kThreads / 32];
#pragma unroll
    for (int w = 0; w < kThreads / 32; ++w) w8[w] = warp_vals[w];
    const float s = butterfly_sum<kThreads / 32>(w8);
    __syncthreads();
    if (threadIdx.x == 0) a.losses[r] = (log_f32(s) + m) - load_elem(a.logits, a.dtype, base + target);
    __syncthreads();  // the target logit is read before any thread overwrites it
    if (!a.compute_grad) continue;
    for (int64_t v = threadIdx.x; v < V; v += kThreads) {
      const float prob = exp_f32(load_elem(a.logits, a.dtype, base + v) - m) / s;
      store_elem(a.logits, a.dtype, base + v, (prob - (v == target ? 1.0f : 0.0f)) * a.grad_scale);
    }
  }
}

}  // namespace

int32_t embedding_forward(const EmbeddingArgs& a) {
  const char* fn = "quartet_embedding_forward";
  int32_t* st = nullptr;
  QUARTET_TRY(status_ptr(fn, &st));
  embedding_forward_kernel<<<blocks_for(a.n, 1), 128, 0, current_stream()>>>(a.tokens, a.n, a.table, a.vocab, a.dim, a.out, a.dtype, st);
  return check_launch(fn);
}

int32_t embedding_backward(const EmbeddingArgs& a) {
  const char* fn = "quartet_embedding_backward";
  int32_t* st = nullptr;
  QUARTET_TRY(status_ptr(fn, &st));
  const int64_t blocks = (a.vocab + kEmbedRowsPerBlock - 1) / kEmbedRowsPerBlock;
  embedding_backward_kernel<<<(unsigned)blocks, kThreads, 0, current_stream()>>>(a.tokens, a.n, a.dout, a.dtype, a.vocab, a.dim,
                                                                                  a.dtable, st);
  return check_launch(fn);
}

int32_t rmsnorm_forward(const RmsNormArgs& a) {
  rmsnorm_forward_kernel<<<blocks_for(a.rows, kThreads / 32), kThreads, 0, current_stream()>>>(
      a.x, a.x_dtype, a.rows, a.dim, a.weight, a.eps, a.y, a.y_dtype, a.rstd);
  return check_launch("quartet_rmsnorm_forward");
}

int32_t rmsnorm_backward(const RmsNormArgs& a) {
  const char* fn = "quartet_rmsnorm_backward";
  cudaStream_t s = current_stream();
  rmsnorm_backward_dx_kernel<<<blocks_for(a.rows, kThreads / 32), kThreads, 0, s>>>(a);
  QUARTET_TRY(check_launch(fn));
  const int64_t chunks = (a.rows + kNormPartialRows - 1) / kNormPartialRows;
  const unsigned slabs = (unsigned)((a.dim + kThreads - 1) / kThreads);
  if (chunks > 0x7FFFFFFF || slabs > 65535) return fail(QUARTET_ERR_SHAPE, fn, "rows or dim too large for the CUDA kernel");
  rmsnorm_backward_partial_kernel<<<dim3((unsigned)chunks, slabs), kThreads, 0, s>>>(a);
  QUARTET_TRY(check_launch(fn));
  rmsnorm_backward_reduce_kernel<<<slabs, kThreads, 0, s>>>(a.scratch, chunks, a.dim, a.dweight);
  return check_launch(fn);
}

int32_t rope(const RopeArgs& a) {
  rope_kernel<<<blocks_for(a.rows * a.heads * (a.head_dim / 2), kThreads), kThreads, 0, current_stream()>>>(a);
  return check_launch(a.inverse ? "quartet_rope_backward" : "quartet_rope_forward");
}

int32_t swiglu_forward(const SwigluArgs& a) {
  swiglu_forward_kernel<<<blocks_for(a.rows * a.hidden, kThreads), kThreads, 0, current_stream()>>>(a);
  return check_launch("quartet_swiglu_forward");
}

int32_t swiglu_backward(const SwigluArgs& a) {
  swiglu_backward_kernel<<<blocks_for(a.rows * a.hidden, kThreads), kThreads, 0, current_stream()>>>(a);
  return check_launch("quartet_swiglu_backward");
}

int32_t add(const AddArgs& a) {
  add_kernel<<<blocks_for(a.n, kThreads), kThreads, 0, current_stream()>>>(a);
  return check_launch("quartet_add");
}

int32_t cross_entropy(const CrossEntropyArgs& a) {
  const char* fn = "quartet_cross_entropy";
  int32_t* st = nullptr;
  QUARTET_TRY(status_ptr(fn, &st));
  cross_entropy_kernel<<<blocks_for(a.rows, 1), kThreads, 0, current_stream()>>>(a, st);
  return check_launch(fn);
}

}  // namespace cuda
}  // namespace quartet
