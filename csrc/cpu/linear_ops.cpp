// linear_ops.cpp — the element-wise pieces of the linear layers on the CPU: dtype conversion, the exact
// transpose of a 16x16-blocked NVFP4 matrix (NVIDIA recipe's W^T), and the masked inverse Hadamard of the
// Quartet v1 backward.
#include "core/numerics.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/status.h"

#include <vector>

namespace quartet {
namespace cpu {

namespace {
inline float load(const void* p, int32_t dt, int64_t i) {
  return dt == QUARTET_DTYPE_BF16 ? bf16_to_f32(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}
inline void store(void* p, int32_t dt, int64_t i, float v) {
  if (dt == QUARTET_DTYPE_BF16) static_cast<uint16_t*>(p)[i] = f32_to_bf16(v);
  else static_cast<float*>(p)[i] = v;
}
}  // namespace

int32_t convert(const ConvertArgs& a) {
  parallel_for(a.n, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) store(a.out, a.out_dtype, i, load(a.x, a.x_dtype, i));
  });
  return QUARTET_OK;
}

int32_t transpose16(const Transpose16Args& a) {
  const int64_t R = a.rows, C = a.cols;
  // codes: out[c][r] = in[r][c] (nibbles); scales: out[c][r/16] = in[r][c/16] (the tile's one scale)
  parallel_for(C, 16, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      uint8_t* orow = a.out_codes + c * (R / 2);
      for (int64_t r = 0; r < R; r += 2) {
        uint32_t lo = (a.codes[r * (C / 2) + c / 2] >> ((c & 1) * 4)) & 15u;
        uint32_t hi = (a.codes[(r + 1) * (C / 2) + c / 2] >> ((c & 1) * 4)) & 15u;
        orow[r / 2] = (uint8_t)(lo | (hi << 4));
      }
      for (int64_t rb = 0; rb < R / 16; ++rb) a.out_scales[c * (R / 16) + rb] = a.scales[(rb * 16) * (C / 16) + c / 16];
    }
  });
  *a.out_tensor_scale = a.tensor_scale ? *a.tensor_scale : 1.0f;
  return QUARTET_OK;
}

int32_t mask_rht(const MaskRhtArgs& a) {
  const int64_t R = a.rows, C = a.cols;
  const int d = a.rht.dim;
  const uint32_t* signs = a.rht.has_signs ? a.rht.signs : nullptr;
  parallel_for(R, 4, [&](int64_t rb, int64_t re) {
    std::vector<float> row((size_t)C);
    for (int64_t r = rb; r < re; ++r) {
      for (int64_t c = 0; c < C; ++c) {
        bool keep = (a.mask[r * (C / 8) + c / 8] >> (c & 7)) & 1u;
        row[(size_t)c] = keep ? a.x[r * C + c] : 0.0f;
      }
      for (int64_t c = 0; c < C; c += d) {
        float* w = row.data() + c;
        if (d == 16) rht_chunk<16>(w, signs);
        else if (d == 32) rht_chunk<32>(w, signs);
        else rht_chunk<128>(w, signs);
      }
      for (int64_t c = 0; c < C; ++c) {
        float v = row[(size_t)c];
        if (a.accumulate) v = static_cast<float*>(a.out)[r * C + c] + v;
        store(a.out, a.out_dtype, r * C + c, v);
      }
    }
  });
  return QUARTET_OK;
}

}  // namespace cpu
}  // namespace quartet
