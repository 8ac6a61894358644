// absmax.cpp — exact tensor abs-max on the CPU (quartet_absmax, and the A of every quantizer).
//
// max|x| is computed on the raw bit patterns with the sign cleared: for non-negative IEEE floats the
// integer order equals the numeric order, so the result is exact, the loop vectorizes, and a NaN or Inf
// shows up as a value >= 0x7F800000 instead of being silently skipped by a float compare. With the sign
// bit cleared the patterns are non-negative signed integers too; comparing them as signed lets baseline
// x86-64 (SSE2, which has no unsigned 32-bit compare) vectorize the loop.
#include <string.h>

#include <atomic>

#include "core/parallel.h"
#include "core/status.h"
#include "cpu/cpu_common.h"
#include "cpu/cpu_internal.h"

namespace quartet {
namespace cpu {
namespace {

constexpr uint32_t kNonFiniteBits = 0x7F800000u;
constexpr int64_t kAbsmaxGrain = int64_t(1) << 16;

// Max of (bits & mask) over n elements of signed type S (mask clears the sign bit), shifted left so the
// result is FP32 bits.
// The storage is read through memcpy (not an S* cast) so float data is never accessed through an integer
// lvalue; compilers turn it into plain vector loads.
template <class S>
uint32_t absmax_bits(const void* x, int64_t n, S mask, int shift) {
  const unsigned char* bytes = (const unsigned char*)x;
  std::atomic<uint32_t> best{0};
  parallel_for(n, kAbsmaxGrain, [&](int64_t b, int64_t e) {
    S m = 0;
    for (int64_t i = b; i < e; ++i) {
      S v;
      memcpy(&v, bytes + i * (int64_t)sizeof(S), sizeof(S));
      v = (S)(v & mask);
      m = v > m ? v : m;
    }
    uint32_t bits = (uint32_t)m << shift, cur = best.load();
    while (bits > cur && !best.compare_exchange_weak(cur, bits)) {
    }
  });
  return best.load();
}

}  // namespace

uint32_t absmax_bits_f32(const float* y, int64_t n) {
  return absmax_bits(y, n, (int32_t)0x7FFFFFFF, 0);
}

int32_t absmax(const AbsmaxArgs& a) {
  const char* fn = "quartet_absmax";
  uint32_t bits = a.x_dtype == QUARTET_DTYPE_F32
                      ? absmax_bits_f32((const float*)a.x, a.n)
                      : absmax_bits(a.x, a.n, (int16_t)0x7FFF, 16);
  if (bits >= kNonFiniteBits) {
    // Error path only: name the first offending element.
    for (int64_t i = 0; i < a.n; ++i) {
      float v[1];
      load_f32(a.x, a.x_dtype, i, 1, v);
      if (!is_finite(v[0]))
        return fail(QUARTET_ERR_NON_FINITE, fn, "x[%lld] is %s; the abs-max of a tensor with NaN/Inf is undefined",
                    (long long)i, v[0] != v[0] ? "NaN" : v[0] > 0 ? "+Inf" : "-Inf");
    }
    return fail(QUARTET_ERR_INTERNAL, fn, "abs-max found a non-finite value that a rescan did not");
  }
  *a.amax = u2f(bits);
  return QUARTET_OK;
}

}  // namespace cpu
}  // namespace quartet
