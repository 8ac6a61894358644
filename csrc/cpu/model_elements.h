// model_elements.h — element access for the CPU model ops: one F32 or BF16 element in, one out (BF16 widens
// exactly and rounds to nearest even, §1.4).
#pragma once
#include <stdint.h>

#include "core/numerics.h"
#include "quartet.h"

namespace quartet {
namespace cpu {

inline float load_elem(const void* p, int32_t dtype, int64_t i) {
  return dtype == QUARTET_DTYPE_BF16 ? bf16_to_f32(static_cast<const uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}

inline void store_elem(void* p, int32_t dtype, int64_t i, float v) {
  if (dtype == QUARTET_DTYPE_BF16) static_cast<uint16_t*>(p)[i] = f32_to_bf16(v);
  else static_cast<float*>(p)[i] = v;
}

}  // namespace cpu
}  // namespace quartet
