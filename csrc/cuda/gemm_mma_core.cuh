// gemm_mma_core.cuh — the 128 x 128 x 32 mma.sync main loop shared by the FP4 fallback GEMM
// (gemm_mma_bf16.cu) and the built-in dense BF16 GEMM (gemm_builtin.cu); sm_80 and later.
//
// Each thread of the 256 owns one operand row of the tile: threads 0..127 row t of the A tile, threads
// 128..255 row t - 128 of the B tile (both K-major: row = m or n, 32 consecutive k). Per k tile a Loader
// brings that row into registers (`load`, issued before the math of the previous tile so that the global
// latency hides behind it) and then writes it to shared memory as 32 16-bit values (`store`: plain copies,
// or the FP4 decode of gemm_tiles.cuh). Two shared stages alternate, one barrier per k tile.
//
// Shared layout of a stage: 256 rows x 64 bytes, the 16-byte chunk c of row r at r*64 + 16*(c ^ ((r>>1)&3)).
// That XOR makes both the row-wise 16-byte stores and the ldmatrix reads (8 rows, one chunk) conflict-free.
// 8 warps: 2 along m x 4 along n, 64 x 32 outputs each (4 x 4 m16n8k16 MMAs per 16-wide k step).
#pragma once
#include <stdint.h>

#include "cuda/gemm_tiles.cuh"

namespace quartet {
namespace cuda {
namespace mma_core {

constexpr int kTileM = 128, kTileN = 128, kTileK = 32, kThreads = 256;
constexpr int kRowBytes = kTileK * 2;
constexpr int kStageBytes = (kTileM + kTileN) * kRowBytes;  // 16 KiB
constexpr int kWarpTileM = 64, kWarpTileN = 32;
constexpr int kMmaM = kWarpTileM / 16, kMmaN = kWarpTileN / 8;

using Acc = float[kMmaM][kMmaN][4];

__device__ __forceinline__ int chunk_offset(int r, int c) { return r * kRowBytes + ((c ^ ((r >> 1) & 3)) << 4); }

// Stores this thread's 32 values (4 chunks of 16 bytes) into `stage`.
__device__ __forceinline__ void store_row(uint8_t* stage, const uint4 (&chunks)[4]) {
  const int r = (int)threadIdx.x;
#pragma unroll
  for (int c = 0; c < 4; ++c) *(uint4*)(stage + chunk_offset(r, c)) = chunks[c];
}

// acc += A_tile * B_tile^T over k tiles 0..k_tiles-1. `smem` holds 2 stages (2 * kStageBytes, 16-aligned).
// Loader: struct with `Regs`, `void load(Regs&, int64_t kt)` and `void store(const Regs&, uint8_t* stage)`.
template <bool kBf16, class Loader>
__device__ __forceinline__ void mainloop(Loader& loader, int64_t k_tiles, uint8_t* smem, Acc& acc) {
  const int warp = (int)(threadIdx.x >> 5), lane = (int)(threadIdx.x & 31);
  const int wm = warp >> 2, wn = warp & 3;
#pragma unroll
  for (int i = 0; i < kMmaM; ++i)
#pragma unroll
    for (int j = 0; j < kMmaN; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

  typename Loader::Regs regs;
  loader.load(regs, 0);
  loader.store(regs, smem);
  __syncthreads();
  for (int64_t kt = 0; kt < k_tiles; ++kt) {
    const uint8_t* cur = smem + (kt & 1) * kStageBytes;
    uint8_t* nxt = smem + ((kt + 1) & 1) * kStageBytes;
    const bool more = kt + 1 < k_tiles;
    if (more) loader.load(regs, kt + 1);  // in flight during the math below
#pragma unroll
    for (int kk = 0; kk < 2; ++kk) {
      uint32_t af[kMmaM][4], bf[kMmaN][2];
#pragma unroll
      for (int mt = 0; mt < kMmaM; ++mt) {
        // matrices (rows 0-7, k lo), (rows 8-15, k lo), (rows 0-7, k hi), (rows 8-15, k hi) = a0..a3
        const int r = wm * kWarpTileM + mt * 16 + (lane & 15);
        tiles::ldmatrix_x4(af[mt], cur + chunk_offset(r, 2 * kk + (lane >> 4)));
      }
#pragma unroll
      for (int np = 0; np < kMmaN / 2; ++np) {
        // matrices (n 0-7, k lo), (n 0-7, k hi), (n 8-15, k lo), (n 8-15, k hi) = b0, b1 of two n8 tiles
        const int r = kTileM + wn * kWarpTileN + np * 16 + (lane & 7) + ((lane >> 4) << 3);
        uint32_t t[4];
        tiles::ldmatrix_x4(t, cur + chunk_offset(r, 2 * kk + ((lane >> 3) & 1)));
        bf[2 * np][0] = t[0];
        bf[2 * np][1] = t[1];
        bf[2 * np + 1][0] = t[2];
        bf[2 * np + 1][1] = t[3];
      }
#pragma unroll
      for (int mt = 0; mt < kMmaM; ++mt)
#pragma unroll
        for (int nt = 0; nt < kMmaN; ++nt) tiles::mma_16816<kBf16>(acc[mt][nt], af[mt], bf[nt][0], bf[nt][1]);
    }
    if (more) loader.store(regs, nxt);  // stage `nxt` was last read before the previous barrier
    __syncthreads();
  }
}

// Tile coordinates of accumulator element acc[mt][nt][e] for this thread (row, col within the 128 x 128 tile).
__device__ __forceinline__ int acc_row(int mt, int e) {
  const int warp = (int)(threadIdx.x >> 5), lane = (int)(threadIdx.x & 31);
  return (warp >> 2) * kWarpTileM + mt * 16 + (lane >> 2) + 8 * (e >> 1);
}
__device__ __forceinline__ int acc_col(int nt, int e) {
  const int warp = (int)(threadIdx.x >> 5), lane = (int)(threadIdx.x & 31);
  return (warp & 3) * kWarpTileN + nt * 8 + 2 * (lane & 3) + (e & 1);
}

}  // namespace mma_core
}  // namespace cuda
}  // namespace quartet
