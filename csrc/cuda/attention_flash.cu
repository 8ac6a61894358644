// attention_flash.cu — causal multi-head attention on the GPU: flash-style fused kernels (FlashAttention-2
// schedule) on BF16 tensor cores (mma.sync m16n8k16, FP32 accumulation), head_dim 64 or 128. The CPU
// reference (csrc/cpu/attention.cpp) defines the result; this differs from it by rounding only (BF16
// operands of the P V and gradient products, exp2 instead of exp).
//
// Layout (quartet.h): qkv [B*S, 3D] = q | k | v with head h at columns h*hd of each third, out [B*S, D],
// lse [B, H, S] natural log-sum-exp of the scaled scores. Tiles of 64 queries x 64 keys; a block of 4 warps
// owns 64 rows (16 per warp) of its operand and loops over the other operand's tiles, which are staged in
// shared memory by cp.async (rows past the sequence are zero-filled).
//   forward: block = (query tile, b*H + h); online softmax in the log2 domain, P kept in registers and fed
//            back as the A operand of P V (the accumulator layout of S is the A layout of P).
//   backward: delta_i = dout_i . out_i; then two deterministic kernels that each own their outputs:
//            dK, dV per key tile (looping over query tiles i >= j), dQ per query tile (looping over key tiles
//            j <= i). P and dS are recomputed in both; no atomics, so results are run-to-run identical.
// Shared tiles are 64 rows of hd BF16 (hd/8 chunks of 16 bytes); chunk c of row r is stored at chunk
// c ^ (r & 7), which keeps the 8-row ldmatrix reads and the 16-byte cp.async writes free of bank conflicts.
#include <initializer_list>

#include "core/model_ops.h"
#include "cuda/cuda_common.cuh"
#include "cuda/gemm_tiles.cuh"

namespace quartet {
namespace cuda {

namespace {

constexpr int kTile = 64;     // queries or keys per tile
constexpr int kWarps = 4;     // 16 rows each
constexpr int kAttnThreads = kWarps * 32;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

template <int HD>
struct Tile {
  static constexpr int kRowBytes = HD * 2;
  static constexpr int kChunks = HD / 8;
  static constexpr int kBytes = kTile * kRowBytes;
  __device__ static __forceinline__ int offset(int r, int c) { return r * kRowBytes + ((c ^ (r & 7)) << 4); }
};

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row_addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(tiles::smem_u32(row_addr)));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  return (uint32_t)f32_to_bf16(lo) | ((uint32_t)f32_to_bf16(hi) << 16);
}

__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  tiles::mma_16816<true>(d, a, b0, b1);
}

// Stage rows [0, 64) of a row-major BF16 matrix (row stride ld elements, starting at g) into a shared tile;
// rows >= rows_valid are zero-filled.
template <int HD>
__device__ __forceinline__ void load_tile(uint8_t* tile, const uint16_t* g, int64_t ld, int rows_valid) {
  constexpr int CH = Tile<HD>::kChunks;
  for (int i = threadIdx.x; i < kTile * CH; i += kAttnThreads) {
    const int r = i / CH, c = i % CH;
    const bool valid = r < rows_valid;
    tiles::cp_async16(tile + Tile<HD>::offset(r, c), g + (int64_t)(valid ? r : 0) * ld + c * 8, valid);
  }
}

// A fragment (16 rows from row0, k-slice kk of 16 elements) of a tile whose rows are the A rows.
template <int HD>
__device__ __forceinline__ void frag_a(uint32_t (&a)[4], const uint8_t* tile, int row0, int kk) {
  const int lane = threadIdx.x & 31;
  tiles::ldmatrix_x4(a, tile + Tile<HD>::offset(row0 + (lane & 15), 2 * kk + (lane >> 4)));
}

// B fragments of two n8 tiles (n = rows n0..n0+15 of the tile, k-slice kk along the row): {b0, b1} of tile n0
// in t[0], t[1] and of tile n0 + 8 in t[2], t[3].
template <int HD>
__device__ __forceinline__ void frag_b_rows(uint32_t (&t)[4], const uint8_t* tile, int n0, int kk) {
  const int lane = threadIdx.x & 31;
  tiles::ldmatrix_x4(t, tile + Tile<HD>::offset(n0 + (lane & 7) + ((lane >> 4) << 3), 2 * kk + ((lane >> 3) & 1)));
}

// B fragments where k runs over the tile's rows (k0..k0+15) and n over columns 16 dp..16 dp+15: {b0, b1} of the
// n8 tile 2 dp in t[0], t[1] and of 2 dp + 1 in t[2], t[3] (ldmatrix .trans).
template <int HD>
__device__ __forceinline__ void frag_b_cols(uint32_t (&t)[4], const uint8_t* tile, int k0, int dp) {
  const int lane = threadIdx.x & 31;
  ldmatrix_x4_trans(t, tile + Tile<HD>::offset(k0 + (lane & 7) + (((lane >> 3) & 1) << 3), 2 * dp + (lane >> 4)));
}

// acc[8][4] (16 rows x 64 columns) += A (16 rows of tile_a from row0) * B^T (64 rows of tile_b), k = HD.
template <int HD>
__device__ __forceinline__ void gemm_rows(float (&acc)[8][4], const uint8_t* tile_a, int row0, const uint8_t* tile_b) {
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    uint32_t a[4];
    frag_a<HD>(a, tile_a, row0, kk);
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      uint32_t t[4];
      frag_b_rows<HD>(t, tile_b, np * 16, kk);
      mma(acc[2 * np], a, t[0], t[1]);
      mma(acc[2 * np + 1], a, t[2], t[3]);
    }
  }
}

// out[HD/8][4] (16 rows x HD) += P (16 x 64, from the accumulator p) * tile (64 rows x HD), P rounded to BF16.
template <int HD>
__device__ __forceinline__ void gemm_p_tile(float (&out)[HD / 8][4], const float (&p)[8][4], const uint8_t* tile) {
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    uint32_t a[4];
    a[0] = pack_bf16(p[2 * kk][0], p[2 * kk][1]);
    a[1] = pack_bf16(p[2 * kk][2], p[2 * kk][3]);
    a[2] = pack_bf16(p[2 * kk + 1][0], p[2 * kk + 1][1]);
    a[3] = pack_bf16(p[2 * kk + 1][2], p[2 * kk + 1][3]);
#pragma unroll
    for (int dp = 0; dp < HD / 16; ++dp) {
      uint32_t t[4];
      frag_b_cols<HD>(t, tile, kk * 16, dp);
      mma(out[2 * dp], a, t[0], t[1]);
      mma(out[2 * dp + 1], a, t[2], t[3]);
    }
  }
}

template <int N>
__device__ __forceinline__ void zero(float (&x)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) x[i][e] = 0.0f;
}

// Writes 16 rows x HD of an accumulator (rows row_a, row_a + 8 of the sequence) as BF16 at columns col0.. of a
// row-major [*, ld] matrix whose row 0 is `base`; rows >= S are skipped.
template <int HD>
__device__ __forceinline__ void store_rows(uint16_t* base, int64_t ld, int col0, int row_a, int S, const float (&acc)[HD / 8][4],
                                           float mul0, float mul1) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int j = 0; j < HD / 8; ++j) {
    const int col = col0 + j * 8 + 2 * (lane & 3);
    if (row_a < S) *(uint32_t*)(base + (int64_t)row_a * ld + col) = pack_bf16(acc[j][0] * mul0, acc[j][1] * mul0);
    if (row_a + 8 < S) *(uint32_t*)(base + (int64_t)(row_a + 8) * ld + col) = pack_bf16(acc[j][2] * mul1, acc[j][3] * mul1);
  }
}

// ---- forward ----------------------------------------------------------------------------------------------

template <int HD>
__global__ void __launch_bounds__(kAttnThreads) attention_forward_kernel(const uint16_t* qkv, uint16_t* out, float* lse, int S,
                                                                         int H, float scale_log2) {
  extern __shared__ __align__(16) uint8_t smem[];
  uint8_t* sQ = smem;
  uint8_t* sK = smem + Tile<HD>::kBytes;
  uint8_t* sV = smem + 2 * Tile<HD>::kBytes;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int bh = blockIdx.y, b = bh / H, h = bh % H;
  const int qt = gridDim.x - 1 - blockIdx.x;  // the longest (last) query tiles start first
  const int q0 = qt * kTile;
  const int64_t D = (int64_t)H * HD, ld = 3 * D;
  const uint16_t* seq = qkv + (int64_t)b * S * ld;
  load_tile<HD>(sQ, seq + (int64_t)q0 * ld + h * HD, ld, S - q0);
  tiles::cp_async_commit();

  float o[HD / 8][4], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  zero(o);
  const int row0 = q0 + warp * 16 + (lane >> 2);  // this thread's rows: row0 and row0 + 8
  for (int kt = 0; kt <= qt; ++kt) {
    __syncthreads();  // everyone is done reading the previous K, V tiles
    load_tile<HD>(sK, seq + (int64_t)kt * kTile * ld + D + h * HD, ld, S - kt * kTile);
    load_tile<HD>(sV, seq + (int64_t)kt * kTile * ld + 2 * D + h * HD, ld, S - kt * kTile);
    tiles::cp_async_commit();
    tiles::cp_async_wait<0>();
    __syncthreads();
    float s[8][4];
    zero(s);
    gemm_rows<HD>(s, sQ, warp * 16, sK);
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = kt * kTile + j * 8 + 2 * (lane & 3) + (e & 1);
        const float v = key <= row0 + 8 * (e >> 1) ? s[j][e] * scale_log2 : -INFINITY;
        s[j][e] = v;
        mx[e >> 1] = fmaxf(mx[e >> 1], v);
      }
    float corr[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float mnew = fmaxf(m[r], mx[r]);  // finite: key 0 of tile 0 is visible to every row
      corr[r] = exp2f(m[r] - mnew);
      m[r] = mnew;
      l[r] *= corr[r];
    }
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float p = exp2f(s[j][e] - m[e >> 1]);
        s[j][e] = p;
        l[e >> 1] += p;
      }
#pragma unroll
    for (int j = 0; j < HD / 8; ++j) {
      o[j][0] *= corr[0];
      o[j][1] *= corr[0];
      o[j][2] *= corr[1];
      o[j][3] *= corr[1];
    }
    gemm_p_tile<HD>(o, s, sV);
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
  store_rows<HD>(out + (int64_t)b * S * D, D, h * HD, row0, S, o, 1.0f / l[0], 1.0f / l[1]);
  if ((lane & 3) == 0) {
    float* lrow = lse + (int64_t)bh * S;
    if (row0 < S) lrow[row0] = (m[0] + log2f(l[0])) * kLn2;
    if (row0 + 8 < S) lrow[row0 + 8] = (m[1] + log2f(l[1])) * kLn2;
  }
}

// ---- backward ---------------------------------------------------------------------------------------------

// delta[bh, i] = dout_i . out_i over the head's hd columns: one warp per (row, head).
__global__ void attention_delta_kernel(const uint16_t* out, const uint16_t* dout, float* delta, int64_t BS, int S, int H, int hd) {
  const int lane = threadIdx.x & 31;
  const int64_t items = BS * H, D = (int64_t)H * hd;
  for (int64_t w = (int64_t)blockIdx.x * (blockDim.x / 32) + (threadIdx.x >> 5); w < items; w += (int64_t)gridDim.x * (blockDim.x / 32)) {
    const int64_t t = w / H;
    const int h = (int)(w % H);
    const int64_t off = t * D + (int64_t)h * hd;
    float acc = 0.0f;
    for (int d = lane; d < hd; d += 32) acc += bf16_to_f32(dout[off + d]) * bf16_to_f32(out[off + d]);
#pragma unroll
    for (int k = 16; k >= 1; k >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, k);
    if (lane == 0) delta[((t / S) * H + h) * S + t % S] = acc;
  }
}

// dK, dV of one key tile: loops over the query tiles at or after it.
template <int HD>
__global__ void __launch_bounds__(kAttnThreads) attention_dkdv_kernel(const uint16_t* qkv, const uint16_t* dout, const float* lse,
                                                                      const float* delta, uint16_t* dqkv, int S, int H,
                                                                      float scale, float scale_log2) {
  extern __shared__ __align__(16) uint8_t smem[];
  uint8_t* sK = smem;
  uint8_t* sV = smem + Tile<HD>::kBytes;
  uint8_t* sQ = smem + 2 * Tile<HD>::kBytes;
  uint8_t* sD = smem + 3 * Tile<HD>::kBytes;  // dout tile
  float* sLse = reinterpret_cast<float*>(smem + 4 * Tile<HD>::kBytes);  // log2-domain lse of the query tile
  float* sDelta = sLse + kTile;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int bh = blockIdx.y, b = bh / H, h = bh % H;
  const int kt = blockIdx.x, k0 = kt * kTile;  // key tile 0 has the most work and starts first
  const int64_t D = (int64_t)H * HD, ld = 3 * D;
  const uint16_t* seq = qkv + (int64_t)b * S * ld;
  const uint16_t* dseq = dout + (int64_t)b * S * D;
  load_tile<HD>(sK, seq + (int64_t)k0 * ld + D + h * HD, ld, S - k0);
  load_tile<HD>(sV, seq + (int64_t)k0 * ld + 2 * D + h * HD, ld, S - k0);
  tiles::cp_async_commit();

  float dk[HD / 8][4], dv[HD / 8][4];
  zero(dk);
  zero(dv);
  const int key0 = k0 + warp * 16 + (lane >> 2);  // this thread's keys: key0 and key0 + 8
  const int q_tiles = (S + kTile - 1) / kTile;
  for (int qt = kt; qt < q_tiles; ++qt) {
    const int q0 = qt * kTile;
    __syncthreads();
    load_tile<HD>(sQ, seq + (int64_t)q0 * ld + h * HD, ld, S - q0);
    load_tile<HD>(sD, dseq + (int64_t)q0 * D + h * HD, D, S - q0);
    tiles::cp_async_commit();
    if (threadIdx.x < kTile) {
      const int q = q0 + threadIdx.x;
      sLse[threadIdx.x] = q < S ? lse[(int64_t)bh * S + q] * kLog2e : INFINITY;
      sDelta[threadIdx.x] = q < S ? delta[(int64_t)bh * S + q] : 0.0f;
    }
    tiles::cp_async_wait<0>();
    __syncthreads();
    // S^T = K Q^T and dP^T = V dout^T (16 keys x 64 queries per warp)
    float p[8][4], dp[8][4];
    zero(p);
    zero(dp);
    gemm_rows<HD>(p, sK, warp * 16, sQ);
    gemm_rows<HD>(dp, sV, warp * 16, sD);
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int ql = j * 8 + 2 * (lane & 3) + (e & 1);
        const int q = q0 + ql;
        const bool visible = q >= key0 + 8 * (e >> 1) && q < S;
        const float pv = visible ? exp2f(p[j][e] * scale_log2 - sLse[ql]) : 0.0f;
        p[j][e] = pv;
        dp[j][e] = pv * (dp[j][e] - sDelta[ql]);  // dS^T
      }
    gemm_p_tile<HD>(dv, p, sD);   // dV += P^T dout
    gemm_p_tile<HD>(dk, dp, sQ);  // dK += dS^T Q  (times scale at the end)
  }
  store_rows<HD>(dqkv + (int64_t)b * S * ld, ld, (int)(D + h * HD), key0, S, dk, scale, scale);
  store_rows<HD>(dqkv + (int64_t)b * S * ld, ld, (int)(2 * D + h * HD), key0, S, dv, 1.0f, 1.0f);
}

// dQ of one query tile: loops over the key tiles at or before it.
template <int HD>
__global__ void __launch_bounds__(kAttnThreads) attention_dq_kernel(const uint16_t* qkv, const uint16_t* dout, const float* lse,
                                                                    const float* delta, uint16_t* dqkv, int S, int H, float scale,
                                                                    float scale_log2) {
  extern __shared__ __align__(16) uint8_t smem[];
  uint8_t* sQ = smem;
  uint8_t* sD = smem + Tile<HD>::kBytes;
  uint8_t* sK = smem + 2 * Tile<HD>::kBytes;
  uint8_t* sV = smem + 3 * Tile<HD>::kBytes;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int bh = blockIdx.y, b = bh / H, h = bh % H;
  const int qt = gridDim.x - 1 - blockIdx.x, q0 = qt * kTile;
  const int64_t D = (int64_t)H * HD, ld = 3 * D;
  const uint16_t* seq = qkv + (int64_t)b * S * ld;
  load_tile<HD>(sQ, seq + (int64_t)q0 * ld + h * HD, ld, S - q0);
  load_tile<HD>(sD, dout + (int64_t)b * S * D + (int64_t)q0 * D + h * HD, D, S - q0);
  tiles::cp_async_commit();
  const int row0 = q0 + warp * 16 + (lane >> 2);
  float lse2[2], dl[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int q = row0 + 8 * r;
    lse2[r] = q < S ? lse[(int64_t)bh * S + q] * kLog2e : INFINITY;
    dl[r] = q < S ? delta[(int64_t)bh * S + q] : 0.0f;
  }
  float dq[HD / 8][4];
  zero(dq);
  for (int kt = 0; kt <= qt; ++kt) {
    __syncthreads();
    load_tile<HD>(sK, seq + (int64_t)kt * kTile * ld + D + h * HD, ld, S - kt * kTile);
    load_tile<HD>(sV, seq + (int64_t)kt * kTile * ld + 2 * D + h * HD, ld, S - kt * kTile);
    tiles::cp_async_commit();
    tiles::cp_async_wait<0>();
    __syncthreads();
    float p[8][4], dp[8][4];
    zero(p);
    zero(dp);
    gemm_rows<HD>(p, sQ, warp * 16, sK);   // S = Q K^T
    gemm_rows<HD>(dp, sD, warp * 16, sV);  // dP = dout V^T
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = kt * kTile + j * 8 + 2 * (lane & 3) + (e & 1);
        const int r = e >> 1;
        const float pv = key <= row0 + 8 * r ? exp2f(p[j][e] * scale_log2 - lse2[r]) : 0.0f;
        p[j][e] = pv * (dp[j][e] - dl[r]);  // dS
      }
    gemm_p_tile<HD>(dq, p, sK);  // dQ += dS K
  }
  store_rows<HD>(dqkv + (int64_t)b * S * ld, ld, h * HD, row0, S, dq, scale, scale);
}

template <class K>
int32_t allow_smem(const char* fn, K kernel, int bytes) {
  QUARTET_CUDA_TRY(fn, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  return QUARTET_OK;
}

int32_t check_layout(const char* fn, const AttentionArgs& a, std::initializer_list<const void*> ptrs) {
  if (a.seq > 0x7FFFFFFF / 2 || a.batch * a.heads > 65535 || (a.seq + kTile - 1) / kTile > 0x7FFFFFFF)
    return fail(QUARTET_ERR_SHAPE, fn, "batch * heads must be <= 65535 and seq < 2^30 for the CUDA kernel");
  for (const void* p : ptrs)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0)
      return fail(QUARTET_ERR_UNSUPPORTED, fn, "the CUDA attention kernel needs 16-byte aligned buffers");
  return QUARTET_OK;
}

template <int HD>
int32_t forward_hd(const AttentionArgs& a) {
  const char* fn = "quartet_attention_forward";
  const int smem = 3 * Tile<HD>::kBytes;
  QUARTET_TRY(allow_smem(fn, attention_forward_kernel<HD>, smem));
  const dim3 grid((unsigned)((a.seq + kTile - 1) / kTile), (unsigned)(a.batch * a.heads));
  const float scale_log2 = (1.0f / sqrtf((float)HD)) * kLog2e;
  attention_forward_kernel<HD><<<grid, kAttnThreads, smem, current_stream()>>>(
      static_cast<const uint16_t*>(a.qkv), static_cast<uint16_t*>(a.out), a.lse, (int)a.seq, (int)a.heads, scale_log2);
  return check_launch(fn);
}

template <int HD>
int32_t backward_hd(const AttentionArgs& a) {
  const char* fn = "quartet_attention_backward";
  cudaStream_t s = current_stream();
  const int64_t BS = a.batch * a.seq;
  const int64_t items = BS * a.heads;
  const int64_t blocks = (items + 7) / 8;
  attention_delta_kernel<<<(unsigned)(blocks < (1 << 20) ? blocks : (1 << 20)), 256, 0, s>>>(
      static_cast<const uint16_t*>(a.out_saved), static_cast<const uint16_t*>(a.dout), a.delta, BS, (int)a.seq, (int)a.heads, HD);
  QUARTET_TRY(check_launch(fn));
  const float scale = 1.0f / sqrtf((float)HD), scale_log2 = scale * kLog2e;
  const dim3 grid((unsigned)((a.seq + kTile - 1) / kTile), (unsigned)(a.batch * a.heads));
  const int smem_kv = 4 * Tile<HD>::kBytes + 2 * kTile * (int)sizeof(float);
  QUARTET_TRY(allow_smem(fn, attention_dkdv_kernel<HD>, smem_kv));
  attention_dkdv_kernel<HD><<<grid, kAttnThreads, smem_kv, s>>>(
      static_cast<const uint16_t*>(a.qkv), static_cast<const uint16_t*>(a.dout), a.lse, a.delta, static_cast<uint16_t*>(a.dqkv),
      (int)a.seq, (int)a.heads, scale, scale_log2);
  QUARTET_TRY(check_launch(fn));
  const int smem_q = 4 * Tile<HD>::kBytes;
  QUARTET_TRY(allow_smem(fn, attention_dq_kernel<HD>, smem_q));
  attention_dq_kernel<HD><<<grid, kAttnThreads, smem_q, s>>>(
      static_cast<const uint16_t*>(a.qkv), static_cast<const uint16_t*>(a.dout), a.lse, a.delta, static_cast<uint16_t*>(a.dqkv),
      (int)a.seq, (int)a.heads, scale, scale_log2);
  return check_launch(fn);
}

}  // namespace

int32_t attention_forward(const AttentionArgs& a) {
  QUARTET_TRY(check_layout("quartet_attention_forward", a, {a.qkv, a.out}));
  return a.head_dim == 64 ? forward_hd<64>(a) : forward_hd<128>(a);
}

int32_t attention_backward(const AttentionArgs& a) {
  QUARTET_TRY(check_layout("quartet_attention_backward", a, {a.qkv, a.out_saved, a.dout, a.dqkv}));
  return a.head_dim == 64 ? backward_hd<64>(a) : backward_hd<128>(a);
}

}  // namespace cuda
}  // namespace quartet
