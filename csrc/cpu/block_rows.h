// block_rows.h — the loop every block quantizer shares: for each row of the logical matrix (in parallel),
// for each block along K, call a numerics.h block function, pack its codes (§1.1) and place its scale
// byte (linear or swizzled). Also the Philox uniforms of a run of logical elements (§2).
#pragma once
#include <stdint.h>

#include "core/parallel.h"
#include "cpu/cpu_common.h"

namespace quartet {
namespace cpu {

// u24 uniforms of logical elements first..first+n-1 of `stream` (first and n multiples of 4): one Philox
// call per 4 consecutive indices, word i & 3 for index i.
inline void element_uniforms(const QuantizeArgs& a, uint32_t stream, uint64_t first, int n, uint32_t* u) {
  for (int j = 0; j < n; j += 4) {
    uint32_t w[4];
    philox_words(a.seed, a.step, stream, a.tag, (first + (uint64_t)j) >> 2, w);
    for (int t = 0; t < 4; ++t) u[j + t] = w[t] >> 8;
  }
}

// u24 of the block with un-swizzled scale index r * (K/B) + kb (stream 2, block SR of scales).
inline uint32_t block_uniform(const QuantizeArgs& a, uint32_t stream, int64_t r, int64_t kb, int64_t blocks_per_row) {
  return philox_u24(a.seed, a.step, stream, a.tag, (uint64_t)(r * blocks_per_row + kb));
}

// For every block (r, kb) of y[a.R, a.K] with B elements: scale = block(r, kb, x, c) where x points at the
// block's B inputs and c receives B codes. Codes go to a.codes, the scale byte to a.scales.
template <int B, class BlockFn>
void quantize_blocks(const float* y, const QuantizeArgs& a, const BlockFn& block) {
  const int64_t K = a.K, nb = K / B;
  const ScalePlacement place = scale_placement(nb, a.scale_layout);
  parallel_for(a.R, row_grain(K), [&](int64_t r0, int64_t r1) {
    uint32_t c[B];
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = y + r * K;
      uint8_t* codes = a.codes + r * (K / 2);
      for (int64_t kb = 0; kb < nb; ++kb) {
        const uint32_t s = block(r, kb, row + kb * B, c);
        for (int h = 0; h < B; h += 16) pack16(c + h, codes + kb * (B / 2) + h / 2);
        a.scales[place.offset(r, kb)] = (uint8_t)s;
      }
    }
  });
}

}  // namespace cpu
}  // namespace quartet
