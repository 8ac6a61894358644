// quant_kernels.cuh — the tile pieces every CUDA quantizer is built from: "front-ends" that hand each thread
// one 16-element block of the logical [R, K] matrix (numerics.md §2: blocks run along K) as FP32 registers,
// already rotated by the RHT when asked, together with its logical coordinates (r, c = block column).
//
//  - DenseRows: x itself (transpose = 0). Thread t of the grid-stride step owns block b = base + t of the
//    row-major block sequence (b = r * K/16 + c), read with 16-byte loads.
//  - Tiled: the transpose of x (transpose = 1) or a decoded quantized tensor (requantize). A CTA
//    stages a 128 (K) x 64 (R) tile of the storage matrix in shared memory with coalesced loads along the
//    storage rows, then each thread reads one logical 16-block out of it.
//
// In both, the 8 lanes that own the 8 consecutive 16-blocks of one 128-chunk of a row sit next to each other
// in one warp (lane % 8 = position of the block in the chunk; RHT-32 uses lane pairs), which is what the
// lane-distributed RHT below needs.
#pragma once
#include <stdint.h>

#include "cuda/quant_common.cuh"

namespace quartet {
namespace cuda {

// ---- RHT-d across lanes (numerics.md §5.5) -----------------------------------------------------------

struct RhtParams {
  int dim;          // 0 (none), 16, 32 or 128
  uint32_t signs[4];  // bit j&31 of word j>>5 set = column j takes -1 (all zero = all +1)
};

inline RhtParams rht_params(const RhtSpec& s) {
  RhtParams p{s.dim, {0, 0, 0, 0}};
  if (s.has_signs)
    for (int i = 0; i < 4; ++i) p.signs[i] = s.signs[i];
  return p;
}

// One lane's share of a d-chunk: columns 16*pos .. 16*pos+15 with pos = lane % (d/16).
struct RhtLane {
  int dim;
  uint32_t neg;  // bit i: column 16*pos + i takes sign -1
  float norm;
};

__device__ __forceinline__ RhtLane rht_lane(const RhtParams& p, int lane) {
  RhtLane L{p.dim, 0u, 1.0f};
  if (p.dim == 0) return L;
  const int pos = lane & (p.dim / 16 - 1);
  L.neg = (p.signs[pos >> 1] >> (16 * (pos & 1))) & 0xFFFFu;
  L.norm = hadamard_norm(p.dim);
  return L;
}

// The same transform as numerics.h rht_chunk<d>, with the chunk spread over d/16 lanes: the sign step, the
// butterfly stages h = 1..8 inside the lane, the stages h = 16, 32, 64 between lanes (partner lane ^ h/16;
// the lower lane forms fl(w_i + w_{i+h}), the upper one fl(w_i - w_{i+h}) from the same two values), then
// the scaling by C_d. Same pairs, same operations, same order of stages: the same bits. Every lane of the
// warp must call it (shuffles), with the same L.dim.
__device__ __forceinline__ void rht_lanes(float (&w)[16], const RhtLane& L, int lane) {
  if (L.dim == 0) return;
  // w * (-1) is exact: flipping the sign bit is the same operation
#pragma unroll
  for (int i = 0; i < 16; ++i) w[i] = u2f(f2u(w[i]) ^ ((L.neg << (31 - i)) & 0x80000000u));
#pragma unroll
  for (int h = 1; h < 16; h *= 2) {
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      if ((i & h) == 0) {
        float a = w[i], b = w[i + h];
        w[i] = a + b;
        w[i + h] = a - b;
      }
    }
  }
  for (int m = 1; m < L.dim / 16; m *= 2) {
    const bool upper = (lane & m) != 0;
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      float o = __shfl_xor_sync(0xFFFFFFFFu, w[i], m);
      w[i] = upper ? o - w[i] : w[i] + o;
    }
  }
#pragma unroll
  for (int i = 0; i < 16; ++i) w[i] = w[i] * L.norm;
}

// ---- element loads -------------------------------------------------------------------------------------

__device__ __forceinline__ void widen_bf16x8(const uint4 v, float* out) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    out[2 * j] = u2f(w[j] << 16);               // bf16_to_f32 of the low half
    out[2 * j + 1] = u2f(w[j] & 0xFFFF0000u);   // and of the high half
  }
}

template <class T>
struct ElemTraits;
template <>
struct ElemTraits<float> {
  static constexpr int kPerVec = 4;  // elements per 16-byte load
  __device__ static __forceinline__ void load_vec(const float* p, float* out) {
    float4 v = *reinterpret_cast<const float4*>(p);
    out[0] = v.x; out[1] = v.y; out[2] = v.z; out[3] = v.w;
  }
  __device__ static __forceinline__ float load1(const float* p) { return *p; }
};
template <>
struct ElemTraits<__nv_bfloat16> {
  static constexpr int kPerVec = 8;
  __device__ static __forceinline__ void load_vec(const __nv_bfloat16* p, float* out) {
    widen_bf16x8(*reinterpret_cast<const uint4*>(p), out);
  }
  __device__ static __forceinline__ float load1(const __nv_bfloat16* p) {
    return bf16_to_f32(*reinterpret_cast<const uint16_t*>(p));
  }
};

// 16 consecutive elements of F32 or BF16 storage as FP32 (16-byte loads when `vec`).
template <class T>
__device__ __forceinline__ void load16(const T* p, bool vec, float (&y)[16]) {
  if (vec) {
#pragma unroll
    for (int v = 0; v < 16; v += ElemTraits<T>::kPerVec) ElemTraits<T>::load_vec(p + v, y + v);
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i) y[i] = ElemTraits<T>::load1(p + i);
  }
}

// ---- front-end 1: row-major blocks of x --------------------------------------------------------------

// The element type is a run-time switch (uniform over the grid, on the loads only), so one set of kernels
// serves F32 and BF16 input.
struct DenseRows {
  static constexpr int kMinBlocksLight = 4;  // launch bound of the light kernels (abs-max, RTN): 64 registers
  const void* x;
  bool bf16;        // BF16 storage (else F32)
  int64_t nblocks;  // R * K / 16
  int64_t kb;       // K / 16, 16-blocks per row
  bool vec;         // x is 16-byte aligned (rows of 16 elements are then too)
  bool reverse;     // sweep from the end (a second pass then starts on what the first left in L2)

  __host__ __device__ int64_t units() const { return (nblocks + kThreads - 1) / kThreads; }

  // Calls f(r, c, valid, y) once per block of the grid-stride sweep over chunks of kThreads blocks, in
  // CTA-uniform steps (every thread of the CTA makes the same number of calls; `valid` is false past the
  // end). Chunks stay aligned to kThreads blocks in both directions, so the lanes of an RHT group share a row.
  template <class F>
  __device__ __forceinline__ void for_each(const RhtParams& rp, F&& f) const {
    const int lane = threadIdx.x & 31;
    const RhtLane L = rht_lane(rp, lane);
    const int64_t nchunks = units();
    const int64_t stride = (int64_t)gridDim.x * kThreads;
    const int64_t first = reverse ? nchunks - 1 - blockIdx.x : blockIdx.x;
    int64_t b = first * kThreads + threadIdx.x;
    int64_t r = b / kb, c = b - r * kb;
    const int64_t sr = stride / kb, sc = stride - sr * kb;
    for (int64_t ch = blockIdx.x; ch < nchunks; ch += gridDim.x) {
      const bool valid = b < nblocks;
      float y[16];
      if (valid) {
        if (bf16) load16(static_cast<const __nv_bfloat16*>(x) + b * 16, vec, y);
        else load16(static_cast<const float*>(x) + b * 16, vec, y);
      } else {
#pragma unroll
        for (int i = 0; i < 16; ++i) y[i] = 0.0f;
      }
      rht_lanes(y, L, lane);
      f(r, c, valid, y);
      if (reverse) {
        b -= stride;
        c -= sc;
        r -= sr;
        if (c < 0) { c += kb; --r; }
      } else {
        b += stride;
        c += sc;
        r += sr;
        if (c >= kb) { c -= kb; ++r; }
      }
    }
  }
};

// ---- front-end 2: tiles staged through shared memory ----------------------------------------------------

constexpr int kTileK = 128;  // logical K per tile (storage rows for a transpose)
constexpr int kTileR = 64;   // logical rows per tile (storage columns)
constexpr int kTileLd = kTileR + 1;

// Shared-memory slot of storage element (kk, rr) of a tile. The +1 row padding and the rotation of each
// 32-column half by 4 * (kk / 16) make both the loaders' row-wise writes and the block-wise reads (8 lanes
// on 8 different 16-row bands, 4 rows each) hit 32 different banks.
__device__ __forceinline__ int tile_slot(int kk, int rr) {
  return kk * kTileLd + ((rr & 32) | ((rr + 4 * (kk >> 4)) & 31));
}

// Storage x[k][r] (row stride R elements) read as the logical matrix x^T [R, K]. `vec`: x 16-byte aligned and
// R a multiple of the vector width.
template <class T>
__device__ __forceinline__ void load_dense_transposed_tile(const T* x, int64_t R, bool vec, float* tile, int64_t k0,
                                                           int64_t r0, int kw, int rw) {
  constexpr int P = ElemTraits<T>::kPerVec;  // 8 (bf16) or 4 (f32) elements per 16-byte chunk
  if (vec && kw == kTileK && rw == kTileR) {
    constexpr int kChunksPerRow = kTileR / P;                  // 8 or 16
    constexpr int kRowsPerWarp = 32 / (kChunksPerRow / 2);     // a warp reads half rows: 8 or 4 rows
    constexpr int kIters = kTileK * kChunksPerRow / kThreads;  // 4 or 8
#pragma unroll
    for (int it = 0; it < kIters; ++it) {
      const int q = threadIdx.x + kThreads * it;
      const int half = (q >> 5) & 1;
      const int kk = (q >> 6) * kRowsPerWarp + ((q & 31) / (kChunksPerRow / 2));
      const int cg = (q % (kChunksPerRow / 2)) + (kChunksPerRow / 2) * half;
      float v[P];
      ElemTraits<T>::load_vec(x + (k0 + kk) * R + r0 + cg * P, v);
#pragma unroll
      for (int e = 0; e < P; ++e) tile[tile_slot(kk, cg * P + e)] = v[e];
    }
  } else {
    for (int e = threadIdx.x; e < kTileK * kTileR; e += kThreads) {
      const int kk = e / kTileR, rr = e % kTileR;
      tile[tile_slot(kk, rr)] = (kk < kw && rr < rw) ? ElemTraits<T>::load1(x + (k0 + kk) * R + r0 + rr) : 0.0f;
    }
  }
}

// A saved quantized tensor src[K, R] (storage rows = logical K, blocked along R; linear scales), decoded
// exactly as dequantize does (§3.1: fl(fl(val(code) * val(s)) * g); MXFP4: val(code) * 2^(e-127)), read as
// the logical matrix src^T [R, K]. Each thread decodes runs of 16 source elements (8 code bytes).
struct QuantizedSource {
  const uint8_t* codes;
  const uint8_t* scales;
  const float* tensor_scale;  // NVFP4 g (device), NULL = 1
  bool mx;                    // MXFP4 source (E8M0 per 32) instead of NVFP4 (E4M3 per 16)
  bool vec;                   // codes 8-byte aligned
};

__device__ __forceinline__ void load_quantized_transposed_tile(const QuantizedSource& src, int64_t R, float* tile,
                                                               int64_t k0, int64_t r0, int kw, int rw) {
  const uint8_t* codes = src.codes;
  const uint8_t* scales = src.scales;
  const bool mx = src.mx, vec = src.vec;
  const float g = src.tensor_scale ? *src.tensor_scale : 1.0f;
  const int64_t sc_cols = mx ? R / 32 : R / 16;
#pragma unroll
  for (int it = 0; it < 2; ++it) {
    const int q = threadIdx.x + kThreads * it;  // 128 rows x 4 runs of 16
    const int kk = q >> 2, u = q & 3;
    const int rr0 = 16 * u;
    if (kk < kw && rr0 < rw) {  // R % 16 == 0: a run is all in or all out
      const int64_t row = k0 + kk, col = r0 + rr0;
      const uint8_t* cp = codes + row * (R / 2) + col / 2;
      uint2 cw;
      if (vec) {
        cw = *reinterpret_cast<const uint2*>(cp);
      } else {
        cw.x = cp[0] | (cp[1] << 8) | (cp[2] << 16) | ((uint32_t)cp[3] << 24);
        cw.y = cp[4] | (cp[5] << 8) | (cp[6] << 16) | ((uint32_t)cp[7] << 24);
      }
      const uint32_t sbyte = scales[row * sc_cols + (mx ? col / 32 : col / 16)];
      const float s = mx ? e8m0_value(sbyte) : e4m3_value(sbyte);
#pragma unroll
      for (int e = 0; e < 16; ++e) {
        const uint32_t code = ((e < 8 ? cw.x : cw.y) >> (4 * (e & 7))) & 15u;
        const float v = mx ? e2m1_value(code) * s : (e2m1_value(code) * s) * g;
        tile[tile_slot(kk, rr0 + e)] = v;
      }
    } else {
#pragma unroll
      for (int e = 0; e < 16; ++e) tile[tile_slot(kk, rr0 + e)] = 0.0f;
    }
  }
}

// What a tile is read from, switched at run time (uniform over the grid) so that one set of kernels serves
// x^T of F32 or BF16 input and the decoded transpose of a saved NVFP4/MXFP4 tensor.
struct TransposedLoader {
  enum Kind { kF32 = 0, kBf16 = 1, kQuantized = 2 };
  int kind;
  const void* x;        // dense storage [K, R] (kF32, kBf16)
  bool vec;             // dense: x 16-byte aligned and R a multiple of the vector width
  QuantizedSource src;  // kQuantized
  int64_t R;            // storage columns = logical rows

  __device__ __forceinline__ void load(float* tile, int64_t k0, int64_t r0, int kw, int rw) const {
    if (kind == kQuantized) load_quantized_transposed_tile(src, R, tile, k0, r0, kw, rw);
    else if (kind == kBf16)
      load_dense_transposed_tile(static_cast<const __nv_bfloat16*>(x), R, vec, tile, k0, r0, kw, rw);
    else load_dense_transposed_tile(static_cast<const float*>(x), R, vec, tile, k0, r0, kw, rw);
  }
};

struct Tiled {
  static constexpr int kMinBlocksLight = 3;  // 80 registers: 3 CTAs of 256 threads (and 3 x 33 KB of tiles)
  TransposedLoader ld;
  int64_t R, K;
  bool reverse;  // sweep the tiles from the last one

  int64_t tiles_r() const { return (R + kTileR - 1) / kTileR; }
  int64_t units() const { return tiles_r() * ((K + kTileK - 1) / kTileK); }

  template <class F>
  __device__ __forceinline__ void for_each(const RhtParams& rp, F&& f) const {
    __shared__ float tile[kTileK * kTileLd];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const RhtLane L = rht_lane(rp, lane);
    const int64_t ntr = (R + kTileR - 1) / kTileR;
    const int64_t ntiles = ntr * ((K + kTileK - 1) / kTileK);
    const int j = lane & 7;  // block of the 128-chunk
    for (int64_t tt = blockIdx.x; tt < ntiles; tt += gridDim.x) {
      const int64_t t = reverse ? ntiles - 1 - tt : tt;
      // neighbouring CTAs take neighbouring column ranges of the same storage rows
      const int64_t r0 = (t % ntr) * kTileR, k0 = (t / ntr) * kTileK;
      const int kw = (int)(K - k0 < kTileK ? K - k0 : kTileK);
      const int rw = (int)(R - r0 < kTileR ? R - r0 : kTileR);
      __syncthreads();  // the previous tile has been read by everyone
      ld.load(tile, k0, r0, kw, rw);
      __syncthreads();
#pragma unroll 1
      for (int sub = 0; sub < kTileR / 32; ++sub) {
        const int g = sub * 32 + warp * 4 + (lane >> 3);
        const bool valid = g < rw && 16 * j < kw;
        float y[16];
#pragma unroll
        for (int i = 0; i < 16; ++i) y[i] = tile[tile_slot(16 * j + i, g)];
        rht_lanes(y, L, lane);
        f(r0 + g, k0 / 16 + j, valid, y);
      }
    }
  }
};

// Writes 16 float values as F32 or BF16 (RNE); vec = the destination is 16-byte aligned.
__device__ __forceinline__ void store16(float* dst, const float (&y)[16], bool vec) {
  if (vec) {
#pragma unroll
    for (int v = 0; v < 16; v += 4) *reinterpret_cast<float4*>(dst + v) = make_float4(y[v], y[v + 1], y[v + 2], y[v + 3]);
  } else {
#pragma unroll
    for (int i = 0; i < 16; ++i) dst[i] = y[i];
  }
}

__device__ __forceinline__ void store16(__nv_bfloat16* dst, const float (&y)[16], bool vec) {
  uint32_t w[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) w[j] = (uint32_t)f32_to_bf16(y[2 * j]) | ((uint32_t)f32_to_bf16(y[2 * j + 1]) << 16);
  if (vec) {
    reinterpret_cast<uint4*>(dst)[0] = make_uint4(w[0], w[1], w[2], w[3]);
    reinterpret_cast<uint4*>(dst)[1] = make_uint4(w[4], w[5], w[6], w[7]);
  } else {
    uint16_t* h = reinterpret_cast<uint16_t*>(dst);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      h[2 * j] = (uint16_t)w[j];
      h[2 * j + 1] = (uint16_t)(w[j] >> 16);
    }
  }
}

}  // namespace cuda
}  // namespace quartet
