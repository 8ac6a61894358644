// quant_common.cuh — launch plumbing shared by the CUDA quantizer ops: grid sizing, the grow-only device
// workspace, the per-CTA partial reductions that carry a tensor abs-max from one kernel to the next without a
// host round trip, and where a scale byte goes (linear or the 128x4 swizzled layout of numerics.md §3.5).
#pragma once
#include <stdint.h>

#include <mutex>

#include "cuda/cuda_common.cuh"

namespace quartet {
namespace cuda {

constexpr int kThreads = 256;          // every quantizer kernel runs 256-thread CTAs (8 warps)
constexpr int kMaxPartials = 4096;     // upper bound on the grid of a kernel that leaves per-CTA partials
constexpr uint32_t kNonFiniteBits = 0x7F800000u;  // abs bits >= this: Inf or NaN

// Streaming multiprocessors of the current device (cached per device).
int sm_count();

// Resident CTAs per SM of a kernel at kThreads threads (cached per kernel).
int ctas_per_sm(const void* kernel, size_t smem);

// CTAs for a grid-stride kernel: enough to fill the device at the kernel's occupancy, never more than the
// work units, never more than kMaxPartials (so per-CTA partials always fit the workspace).
template <class Kernel>
int grid_for(Kernel kernel, int64_t units, size_t smem = 0) {
  int64_t g = (int64_t)sm_count() * ctas_per_sm((const void*)kernel, smem);
  if (g > units) g = units;
  if (g > kMaxPartials) g = kMaxPartials;
  return g < 1 ? 1 : (int)g;
}

// The device workspace: one grow-only buffer per device, allocated stream-ordered (cudaMallocAsync), never
// shrunk. A Workspace object holds the lock for the whole launch sequence of one op, so two host threads
// never hand the same scratch to interleaved kernels.
class Workspace {
 public:
  // Returns QUARTET_OK with *p pointing at >= bytes of device memory valid for work queued on current_stream().
  int32_t get(const char* fn, size_t bytes, void** p);
  Workspace();
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

 private:
  std::unique_lock<std::mutex> lock_;
  int device_;
};

// Carve consecutive 256-byte aligned pieces out of one workspace allocation.
struct Carver {
  size_t used = 0;
  size_t take(size_t bytes) {
    size_t at = used;
    used += (bytes + 255) & ~(size_t)255;
    return at;
  }
};

// The device status word, or a failure when it could not be allocated.
int32_t status_word(const char* fn, int32_t** st);

inline bool aligned(const void* p, size_t a) { return ((uintptr_t)p % a) == 0; }

}  // namespace cuda
}  // namespace quartet

// ---- device helpers ----------------------------------------------------------------------------------

// Max of a uint32 over the CTA (kThreads threads); every thread gets the result. Contains __syncthreads.
__device__ __forceinline__ uint32_t cta_max_u32(uint32_t v) {
  __shared__ uint32_t warp_max[quartet::cuda::kThreads / 32];
  v = __reduce_max_sync(0xFFFFFFFFu, v);
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  __syncthreads();  // warp_max may still be read by a previous call
  if (lane == 0) warp_max[w] = v;
  __syncthreads();
  uint32_t m = 0;
#pragma unroll
  for (int i = 0; i < quartet::cuda::kThreads / 32; ++i) m = m > warp_max[i] ? m : warp_max[i];
  return m;
}

// Max over the per-CTA partials a previous kernel left (n <= kMaxPartials); every thread gets the result.
__device__ __forceinline__ uint32_t reduce_partials(const uint32_t* partials, int n) {
  uint32_t m = 0;
  for (int i = threadIdx.x; i < n; i += quartet::cuda::kThreads) {
    uint32_t v = partials[i];
    m = m > v ? m : v;
  }
  return cta_max_u32(m);
}

// Where scale [r, c] of an [R, scale_cols] scale matrix lives in its buffer (§3.5).
struct ScaleStore {
  uint8_t* base;
  int64_t scale_cols;
  bool swizzled;
  __device__ __forceinline__ int64_t offset(int64_t r, int64_t c) const {
    return swizzled ? quartet::swizzle_offset(r, c, scale_cols) : r * scale_cols + c;
  }
  __device__ __forceinline__ void put(int64_t r, int64_t c, uint32_t v) const { base[offset(r, c)] = (uint8_t)v; }
};

// Pack 16 E2M1 codes (element 2j low nibble of byte j, §1.1) into 8 bytes, as two little-endian words.
__device__ __forceinline__ uint2 pack_codes16(const uint32_t (&c)[16]) {
  uint2 o;
  o.x = c[0] | (c[1] << 4) | (c[2] << 8) | (c[3] << 12) | (c[4] << 16) | (c[5] << 20) | (c[6] << 24) | (c[7] << 28);
  o.y = c[8] | (c[9] << 4) | (c[10] << 8) | (c[11] << 12) | (c[12] << 16) | (c[13] << 20) | (c[14] << 24) |
        (c[15] << 28);
  return o;
}

__device__ __forceinline__ void store_codes16(uint8_t* dst, const uint32_t (&c)[16], bool vec) {
  uint2 o = pack_codes16(c);
  if (vec) {
    *reinterpret_cast<uint2*>(dst) = o;
  } else {
#pragma unroll
    for (int j = 0; j < 4; ++j) dst[j] = (uint8_t)(o.x >> (8 * j));
#pragma unroll
    for (int j = 0; j < 4; ++j) dst[4 + j] = (uint8_t)(o.y >> (8 * j));
  }
}

// abs bits of a float: for non-negative floats the unsigned order of the bits is the numeric order, so a max
// over these is the exact abs-max, and anything >= 0x7F800000 flags an Inf or NaN (a NaN never hides).
__device__ __forceinline__ uint32_t abs_bits(float v) { return quartet::f2u(v) & 0x7FFFFFFFu; }
