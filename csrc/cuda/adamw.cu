// adamw.cu — the CUDA side of the optimizer ops (quartet.h, "Optimizer"): the fixed-order sum of squares behind
// the global gradient norm and the element-wise AdamW step. Same operations in the same order as
// csrc/cpu/adamw.cpp (the file is built with --fmad=false, IEEE sqrt and division), hence the same bits.
#include "core/optim_ops.h"
#include "cuda/cuda_common.cuh"

namespace quartet {
namespace cuda {
namespace {

constexpr int kChunk = (int)kSumSquaresChunk;  // leaves per block
constexpr int kTreeThreads = kChunk / 4;         // each thread folds 4 adjacent leaves (the tree's first 2 levels)

__device__ __forceinline__ double leaf(const float* x, int64_t i, int64_t n) {
  if (i >= n) return 0.0;
  const double d = (double)x[i];
  return d * d;  // exact in binary64
}
__device__ __forceinline__ double leaf(const double* x, int64_t i, int64_t n) { return i < n ? x[i] : 0.0; }

// out[blockIdx.x] = the pairwise tree over in[blockIdx.x * kChunk ...] (kChunk leaves, zeros past n). Adjacent
// pairs are added at every level, exactly as the CPU's chunk_tree, not the strided pairs of a usual reduction.
template <class T>
__global__ void __launch_bounds__(kTreeThreads) tree_level(const T* in, int64_t n, double* out) {
  __shared__ double buf[kTreeThreads];
  const int t = threadIdx.x;
  const int64_t base = (int64_t)blockIdx.x * kChunk + 4 * t;
  const double a0 = leaf(in, base, n), a1 = leaf(in, base + 1, n), a2 = leaf(in, base + 2, n),
               a3 = leaf(in, base + 3, n);
  buf[t] = (a0 + a1) + (a2 + a3);
  __syncthreads();
  for (int len = kTreeThreads; len > 1; len >>= 1) {
    double s = 0.0;
    if (t < len / 2) s = buf[2 * t] + buf[2 * t + 1];
    __syncthreads();
    if (t < len / 2) buf[t] = s;
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = buf[0];
}

__global__ void adamw_kernel(AdamwArgs a) {
  const int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < a.n; i += stride) {
    const float g = a.grad[i] * a.grad_scale;
    const float m = a.beta1 * a.m[i] + a.one_minus_beta1 * g;
    const float v = a.beta2 * a.v[i] + a.one_minus_beta2 * (g * g);
    const float decayed = a.w[i] * a.decay;
    const float denom = sqrtf(v) / a.root_c2 + a.eps;
    a.m[i] = m;
    a.v[i] = v;
    a.w[i] = decayed - a.step_size * (m / denom);
  }
}

int64_t chunks_of(int64_t n) { return (n + kChunk - 1) / kChunk; }

}  // namespace

int32_t sum_squares(const SumSquaresArgs& a) {
  const char* fn = "quartet_sum_squares";
  cudaStream_t s = current_stream();
  // Scratch: the first level of the largest tensor plus the next (ping-pong), and one result per tensor.
  int64_t largest = 1;
  for (int32_t i = 0; i < a.count; ++i) largest = a.sizes[i] > largest ? a.sizes[i] : largest;
  const int64_t level0 = chunks_of(largest), level1 = chunks_of(level0);
  void* scratch = nullptr;
  const size_t bytes = (size_t)(level0 + level1 + a.count) * sizeof(double);
  QUARTET_CUDA_TRY(fn, cudaMallocAsync(&scratch, bytes, s));
  double* ping = static_cast<double*>(scratch);
  double* pong = ping + level0;
  double* results = pong + level1;
  int32_t status = QUARTET_OK;
  for (int32_t i = 0; i < a.count && status == QUARTET_OK; ++i) {
    int64_t len = chunks_of(a.sizes[i]);
    double* dst = len == 1 ? results + i : ping;
    tree_level<float><<<(unsigned)len, kTreeThreads, 0, s>>>(a.tensors[i], a.sizes[i], dst);
    status = check_launch(fn);
    double *cur = ping, *other = pong;
    while (status == QUARTET_OK && len > 1) {
      const int64_t next = chunks_of(len);
      double* out = next == 1 ? results + i : other;
      tree_level<double><<<(unsigned)next, kTreeThreads, 0, s>>>(cur, len, out);
      status = check_launch(fn);
      len = next;
      double* tmp = cur;
      cur = other;
      other = tmp;
    }
  }
  if (status == QUARTET_OK) status = copy(a.sumsq, results, (int64_t)a.count * (int64_t)sizeof(double), 1);
  const cudaError_t freed = cudaFreeAsync(scratch, s);
  if (status != QUARTET_OK) return status;
  QUARTET_CUDA_TRY(fn, freed);
  return QUARTET_OK;
}

int32_t adamw(const AdamwArgs& a) {
  const int threads = 256;
  const int64_t want = (a.n + threads - 1) / threads;
  const unsigned blocks = (unsigned)(want < 65536 ? want : 65536);
  adamw_kernel<<<blocks, threads, 0, current_stream()>>>(a);
  return check_launch("quartet_adamw_step");
}

}  // namespace cuda
}  // namespace quartet
