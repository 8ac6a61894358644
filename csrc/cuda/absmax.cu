// absmax.cu — cuda::absmax: max|x| over n elements (exact; a max does not depend on order), as the max of
// the abs bits (a NaN cannot hide behind a float comparison). One grid-stride pass leaves a partial per CTA,
// a one-CTA kernel reduces them and writes the float, or reports QUARTET_ERR_NON_FINITE (nothing written).
#include "cuda/quant_kernels.cuh"

namespace quartet {
namespace cuda {

namespace {

template <class T>
__global__ void __launch_bounds__(kThreads) absmax_flat(const T* x, int64_t n, bool vec, uint32_t* partials) {
  constexpr int P = ElemTraits<T>::kPerVec;
  const int64_t stride = (int64_t)gridDim.x * kThreads;
  const int64_t t = (int64_t)blockIdx.x * kThreads + threadIdx.x;
  uint32_t m = 0;
  int64_t done = 0;
  if (vec) {
    const int64_t nv = n / P;
    for (int64_t i = t; i < nv; i += stride) {
      float v[P];
      ElemTraits<T>::load_vec(x + i * P, v);
#pragma unroll
      for (int e = 0; e < P; ++e) m = max(m, abs_bits(v[e]));
    }
    done = nv * P;
  }
  for (int64_t i = done + t; i < n; i += stride) m = max(m, abs_bits(ElemTraits<T>::load1(x + i)));
  m = cta_max_u32(m);
  if (threadIdx.x == 0) partials[blockIdx.x] = m;
}

__global__ void __launch_bounds__(kThreads) absmax_final(const uint32_t* partials, int n, float* amax, int32_t* status) {
  const uint32_t bits = reduce_partials(partials, n);
  if (threadIdx.x != 0) return;
  if (bits >= kNonFiniteBits) quartet_report(status, QUARTET_ERR_NON_FINITE);
  else *amax = u2f(bits);
}

template <class T>
int32_t run(const char* fn, const AbsmaxArgs& a) {
  int32_t* status = nullptr;
  QUARTET_TRY(status_word(fn, &status));
  Workspace ws;
  void* partials = nullptr;
  QUARTET_TRY(ws.get(fn, kMaxPartials * 4, &partials));
  const T* x = static_cast<const T*>(a.x);
  const int grid = grid_for(absmax_flat<T>, (a.n + kThreads * 8 - 1) / (kThreads * 8));
  absmax_flat<T><<<grid, kThreads, 0, current_stream()>>>(x, a.n, aligned(x, 16), (uint32_t*)partials);
  QUARTET_TRY(check_launch(fn));
  absmax_final<<<1, kThreads, 0, current_stream()>>>((const uint32_t*)partials, grid, a.amax, status);
  return check_launch(fn);
}

}  // namespace

int32_t absmax(const AbsmaxArgs& a) {
  const char* fn = "quartet_absmax";
  return a.x_dtype == QUARTET_DTYPE_F32 ? run<float>(fn, a) : run<__nv_bfloat16>(fn, a);
}

}  // namespace cuda
}  // namespace quartet
