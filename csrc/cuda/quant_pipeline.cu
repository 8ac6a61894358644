// quant_pipeline.cu — the CUDA quantizer pipeline (see quant_pipeline.cuh for the flow): the kernels, their
// host driver, and its two instantiations (row-major front-end, tiled front-end).
#include "cuda/quant_pipeline.cuh"

namespace quartet {
namespace cuda {


struct QuantParams {
  int64_t R, K, kb;  // logical shape; kb = K / 16 (16-blocks per row)
  int32_t method;
  uint32_t seed, step, tag;
  RhtParams rht;
  uint8_t* codes;
  bool codes_vec;  // codes 8-byte aligned
  ScaleStore scales;
  bool scales_vec;  // scales 4-byte aligned
  float* tensor_scale;
  float* amax_out;
  const float* amax_override;
  uint8_t* trust_mask;
  const uint32_t* in_partials;   // abs-max partials of the previous kernel (NULL = none)
  const uint32_t* in_partials2;  // EDEN-B: partials of F
  int32_t n_in;
  uint32_t* out_partials;        // this kernel's per-CTA abs-max partials (NULL = not kept)
  uint32_t* out_partials2;       // EDEN-B pass 1: per-CTA max pre-scale
  uint32_t* tile_max;            // RTN 16x16: abs bits per 16x16 tile, [R/16, K/16]
  uint16_t* prescale;            // EDEN-B: BF16 pre-scales [R, K/16]
  int32_t* status;
};

// K_VM of §3.3 for the NVFP4 methods with a tensor abs-max.
__device__ __forceinline__ float nvfp4_kvm(int method) {
  switch (method) {
    case QUARTET_METHOD_FOUR_SIX:
    case QUARTET_METHOD_SR_FOUR_SIX: return QUARTET_K_46;
    case QUARTET_METHOD_SR: return QUARTET_K_SR;
    case QUARTET_METHOD_EDEN_A: return QUARTET_K_ED;
    default: return QUARTET_K_RTN;  // RTN, RTN 16x16
  }
}

// The 16 u24 uniforms of elements i0 .. i0+15 (i0 % 16 == 0) of a Philox stream (§2).
__device__ __forceinline__ void uniforms16(const QuantParams& p, uint32_t stream, uint64_t i0, uint32_t (&u)[16]) {
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    uint32_t w[4];
    philox_words(p.seed, p.step, stream, p.tag, (i0 >> 2) + q, w);
#pragma unroll
    for (int k = 0; k < 4; ++k) u[4 * q + k] = w[k] >> 8;
  }
}

__device__ __forceinline__ uint32_t block_abs_bits(const float (&y)[16]) {
  uint32_t m = 0;
#pragma unroll
  for (int i = 0; i < 16; ++i) m = max(m, abs_bits(y[i]));
  return m;
}

// ---- kernels -------------------------------------------------------------------------------------------

// Abs-max of the (rotated) logical matrix: one partial per CTA; per-tile maxima for RTN 16x16.
template <class Front>
__global__ void __launch_bounds__(kThreads, Front::kMinBlocksLight) absmax_pass(Front front, QuantParams p) {
  uint32_t m = 0;
  front.for_each(p.rht, [&](int64_t r, int64_t c, bool valid, float (&y)[16]) {
    if (!valid) return;
    const uint32_t bm = block_abs_bits(y);
    m = max(m, bm);
    if (p.tile_max) atomicMax(p.tile_max + (r >> 4) * p.kb + c, bm);
  });
  m = cta_max_u32(m);
  if (threadIdx.x == 0) p.out_partials[blockIdx.x] = m;
}

// NVFP4 1x16 / 16x16 quantizers with a tensor abs-max (everything except EDEN-B).
// RTN needs few registers: ask for the occupancy that keeps enough loads in flight (no spills at these bounds).
template <int Method, class Front>
constexpr int nvfp4_min_blocks() {
  return (Method == QUARTET_METHOD_RTN || Method == QUARTET_METHOD_RTN_16X16) ? Front::kMinBlocksLight
         : Method == QUARTET_METHOD_FOUR_SIX                                     ? 2
                                                                                 : 1;
}

template <class Front, int Method>
__global__ void __launch_bounds__(kThreads, (nvfp4_min_blocks<Method, Front>())) nvfp4_pass(Front front, QuantParams p) {
  const uint32_t data_bits = p.in_partials ? reduce_partials(p.in_partials, p.n_in) : 0u;
  float A = u2f(data_bits);
  // the CPU backend's checks, in its order: non-finite data, non-finite override, negative override
  int32_t bad = data_bits >= kNonFiniteBits ? QUARTET_ERR_NON_FINITE : QUARTET_OK;
  if (p.amax_override) {
    A = *p.amax_override;
    if (!bad && !is_finite(A)) bad = QUARTET_ERR_NON_FINITE;
    if (!bad && A < 0.0f) bad = QUARTET_ERR_INVALID_ARGUMENT;
  }
  if (bad) {
    if (blockIdx.x == 0 && threadIdx.x == 0) quartet_report(p.status, bad);
    return;  // uniform over the grid: nothing is written
  }
  const float g = nvfp4_tensor_scale(A, nvfp4_kvm(Method));
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    *p.tensor_scale = g;
    if (p.amax_out && p.in_partials) *p.amax_out = u2f(data_bits);
  }
  uint32_t m = 0;
  front.for_each(p.rht, [&](int64_t r, int64_t c, bool valid, float (&y)[16]) {
    if (!valid) return;
    if (p.out_partials) m = max(m, block_abs_bits(y));
    uint32_t code[16];
    uint32_t s;
    if (Method == QUARTET_METHOD_RTN) {
      s = nvfp4_block_rtn(y, block_absmax16(y), g, code);
    } else if (Method == QUARTET_METHOD_RTN_16X16) {
      s = nvfp4_block_rtn(y, u2f(p.tile_max[(r >> 4) * p.kb + c]), g, code);
    } else if (Method == QUARTET_METHOD_FOUR_SIX) {
      s = nvfp4_block_four_six(y, g, code);
    } else if (Method == QUARTET_METHOD_SR) {
      uint32_t u[16];
      uniforms16(p, QUARTET_STREAM_SR_ELEMENT, (uint64_t)(r * p.K + 16 * c), u);
      s = nvfp4_block_sr(y, g, u, code);
    } else if (Method == QUARTET_METHOD_SR_FOUR_SIX) {
      uint32_t ua[16], ub[16];
      uniforms16(p, QUARTET_STREAM_SR_ELEMENT, (uint64_t)(r * p.K + 16 * c), ua);
      uniforms16(p, QUARTET_STREAM_SR_ELEMENT_2, (uint64_t)(r * p.K + 16 * c), ub);
      s = nvfp4_block_sr_four_six(y, g, ua, ub, code);
    } else {  // EDEN_A
      const uint32_t u = philox_u24(p.seed, p.step, QUARTET_STREAM_SR_SCALE, p.tag, (uint64_t)(r * p.kb + c));
      float S, cb;
      s = eden_a_block(y, QUARTET_V_ED, g, u, code, &S, &cb);
    }
    store_codes16(p.codes + r * (p.K / 2) + 8 * c, code, p.codes_vec);
    p.scales.put(r, c, s);
  });
  if (p.out_partials) {
    m = cta_max_u32(m);
    if (threadIdx.x == 0) p.out_partials[blockIdx.x] = m;
  }
}

// MS-EDEN variant B, kernel 1 (§5.7 steps 1-5): codes, BF16 pre-scales, per-CTA max of F and of |y|.
template <class Front>
__global__ void __launch_bounds__(kThreads) eden_b_pass1(Front front, QuantParams p) {
  uint32_t m = 0, fm = 0;
  front.for_each(p.rht, [&](int64_t r, int64_t c, bool valid, float (&y)[16]) {
    if (!valid) return;
    m = max(m, block_abs_bits(y));
    uint32_t code[16];
    const float f = eden_b_block_prescale(y, code);
    fm = max(fm, f2u(f));  // f >= 0: bit order is value order
    store_codes16(p.codes + r * (p.K / 2) + 8 * c, code, p.codes_vec);
    p.prescale[r * p.kb + c] = f32_to_bf16(f);  // exact: f is already a BF16 value
  });
  m = cta_max_u32(m);
  fm = cta_max_u32(fm);
  if (threadIdx.x == 0) {
    p.out_partials[blockIdx.x] = m;
    p.out_partials2[blockIdx.x] = fm;
  }
}

// MXFP4 (§4, §5.9, §5.10): a 32-block is the 16-blocks of a lane pair (c even in the even lane); both lanes
// gather the 32 values and run the block function, each stores its half of the codes.
template <class Front>
__global__ void __launch_bounds__(kThreads) mx_pass(Front front, QuantParams p) {
  uint32_t m = 0;
  const int lane = threadIdx.x & 31;
  const bool odd = (lane & 1) != 0;
  front.for_each(p.rht, [&](int64_t r, int64_t c, bool valid, float (&y)[16]) {
    float x[32];
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const float o = __shfl_xor_sync(0xFFFFFFFFu, y[i], 1);
      x[i] = odd ? o : y[i];
      x[16 + i] = odd ? y[i] : o;
    }
    uint32_t u[32];
    if (p.method == QUARTET_METHOD_MX_SR_RM) {
      uint32_t own[16];
      uniforms16(p, QUARTET_STREAM_SR_ELEMENT, (uint64_t)(r * p.K + 16 * c), own);
#pragma unroll
      for (int i = 0; i < 16; ++i) {
        const uint32_t o = __shfl_xor_sync(0xFFFFFFFFu, own[i], 1);
        u[i] = odd ? o : own[i];
        u[16 + i] = odd ? own[i] : o;
      }
    }
    if (!valid) return;  // both lanes of a pair are valid or neither is
    m = max(m, block_abs_bits(y));
    uint32_t code[32], mask = 0, s;
    switch (p.method) {
      case QUARTET_METHOD_MX_OCP: s = mx_block_ocp(x, code); break;
      case QUARTET_METHOD_MX_QUEST: s = mx_block_quest(x, code, &mask); break;
      case QUARTET_METHOD_MX_SR_RM: s = mx_block_range_matched(x, u, code); break;
      default: s = mx_block_range_matched(x, nullptr, code); break;  // MX_RTN_RM
    }
    uint32_t half[16];
#pragma unroll
    for (int i = 0; i < 16; ++i) half[i] = odd ? code[16 + i] : code[i];
    store_codes16(p.codes + r * (p.K / 2) + 8 * c, half, p.codes_vec);
    if (!odd) {
      p.scales.put(r, c >> 1, s);
      if (p.trust_mask) {
        uint8_t* mp = p.trust_mask + (r * p.K + 16 * c) / 8;  // bit k&7 of byte k>>3, little-endian word
        if (p.scales_vec) {
          *reinterpret_cast<uint32_t*>(mp) = mask;
        } else {
#pragma unroll
          for (int j = 0; j < 4; ++j) mp[j] = (uint8_t)(mask >> (8 * j));
        }
      }
    }
  });
  m = cta_max_u32(m);
  if (threadIdx.x == 0) p.out_partials[blockIdx.x] = m;
}

namespace {

// MS-EDEN variant B, kernel 2 (§5.7 steps 6-8), over the BF16 pre-scales only. A thread takes 4 consecutive
// blocks of the row-major block sequence: they share one Philox call (stream 2, block index).
__global__ void __launch_bounds__(kThreads) eden_b_pass2(QuantParams p) {
  const uint32_t abits = reduce_partials(p.in_partials, p.n_in);
  const uint32_t fbits = reduce_partials(p.in_partials2, p.n_in);
  if (abits >= kNonFiniteBits) {
    if (blockIdx.x == 0 && threadIdx.x == 0) quartet_report(p.status, QUARTET_ERR_NON_FINITE);
    return;
  }
  const float F = u2f(fbits);
  const float g = eden_b_tensor_scale(F);
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    *p.tensor_scale = g;
    if (p.amax_out) *p.amax_out = u2f(abits);
  }
  const int64_t nb = p.R * p.kb;
  const int64_t groups = (nb + 3) / 4;
  const bool row_aligned = (p.kb & 3) == 0;  // the 4 blocks are then 4 consecutive columns of one row
  for (int64_t q = (int64_t)blockIdx.x * kThreads + threadIdx.x; q < groups; q += (int64_t)gridDim.x * kThreads) {
    uint32_t w[4];
    philox_words(p.seed, p.step, QUARTET_STREAM_SR_SCALE, p.tag, (uint64_t)q, w);
    if (row_aligned) {
      const uint2 pre = *reinterpret_cast<const uint2*>(p.prescale + 4 * q);
      const uint16_t f16[4] = {(uint16_t)pre.x, (uint16_t)(pre.x >> 16), (uint16_t)pre.y, (uint16_t)(pre.y >> 16)};
      uint32_t word = 0;
#pragma unroll
      for (int e = 0; e < 4; ++e) word |= eden_b_block_scale(bf16_to_f32(f16[e]), F, g, w[e] >> 8) << (8 * e);
      const int64_t r = (4 * q) / p.kb, c = 4 * q - r * p.kb;
      uint8_t* dst = p.scales.base + p.scales.offset(r, c);  // 4 consecutive bytes in both layouts
      if (p.scales_vec) {
        *reinterpret_cast<uint32_t*>(dst) = word;
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) dst[e] = (uint8_t)(word >> (8 * e));
      }
    } else {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t bi = 4 * q + e;
        if (bi < nb) {
          const uint32_t s = eden_b_block_scale(bf16_to_f32(p.prescale[bi]), F, g, w[e] >> 8);
          const int64_t r = bi / p.kb;
          p.scales.put(r, bi - r * p.kb, s);
        }
      }
    }
  }
}

__global__ void __launch_bounds__(kThreads) finalize_pass(QuantParams p, bool mx_tensor_scale) {
  const uint32_t abits = reduce_partials(p.in_partials, p.n_in);
  if (threadIdx.x != 0) return;
  if (abits >= kNonFiniteBits) {
    quartet_report(p.status, QUARTET_ERR_NON_FINITE);
    return;
  }
  if (p.amax_out) *p.amax_out = u2f(abits);
  if (mx_tensor_scale && p.tensor_scale) *p.tensor_scale = 1.0f;
}

}  // namespace

static int32_t launch_eden_b_pass2(const char* fn, const QuantParams& p) {
  const int64_t groups = (p.R * p.kb + 3) / 4;
  const int grid = grid_for(eden_b_pass2, (groups + kThreads - 1) / kThreads);
  eden_b_pass2<<<grid, kThreads, 0, current_stream()>>>(p);
  return check_launch(fn);
}

// Reduces p.in_partials: non-finite -> status error; else amax_out (if any) and, for MXFP4, tensor_scale = 1.
static int32_t launch_finalize(const char* fn, const QuantParams& p, bool mx_tensor_scale) {
  finalize_pass<<<1, kThreads, 0, current_stream()>>>(p, mx_tensor_scale);
  return check_launch(fn);
}


// ---- host driver ---------------------------------------------------------------------------------------

template <class Front, int Method>
int32_t launch_nvfp4(const char* fn, const Front& front, const QuantParams& p, int grid) {
  nvfp4_pass<Front, Method><<<grid, kThreads, 0, current_stream()>>>(front, p);
  return check_launch(fn);
}

template <class Front, int Method>
int grid_nvfp4(const Front& front) {
  return grid_for(nvfp4_pass<Front, Method>, front.units());
}

template <class Front>
int32_t run_quantize_impl(const char* fn, const Front& front, const QuantizeArgs& a) {
  cudaStream_t st = current_stream();
  QuantParams p{};
  QUARTET_TRY(status_word(fn, &p.status));
  const bool mx = a.format == QUARTET_FORMAT_MXFP4;
  p.R = a.R;
  p.K = a.K;
  p.kb = a.K / 16;
  p.method = a.method;
  p.seed = a.seed;
  p.step = a.step;
  p.tag = a.tag;
  p.rht = rht_params(a.rht);
  p.codes = a.codes;
  p.codes_vec = aligned(a.codes, 8);
  const int64_t scale_cols = a.K / (mx ? 32 : 16);
  const bool swz = a.scale_layout == QUARTET_SCALES_SWIZZLED;
  p.scales = ScaleStore{a.scales, scale_cols, swz};
  p.scales_vec = aligned(a.scales, 4) && aligned(a.trust_mask, 4);
  p.tensor_scale = a.tensor_scale;
  p.amax_out = a.amax_out;
  p.amax_override = a.amax_override;
  p.trust_mask = a.trust_mask;

  // the swizzled layout's padding bytes are part of the output (zero)
  if (swz && (a.R % 128 != 0 || scale_cols % 4 != 0))
    QUARTET_CUDA_TRY(fn, cudaMemsetAsync(a.scales, 0, (size_t)swizzled_bytes(a.R, scale_cols), st));

  const bool eden_b = !mx && a.method == QUARTET_METHOD_EDEN_B;
  const bool tiles16 = !mx && a.method == QUARTET_METHOD_RTN_16X16;
  Carver cv;
  const size_t off_pa = cv.take(kMaxPartials * 4), off_pb = cv.take(kMaxPartials * 4);
  const size_t off_extra = cv.take(eden_b ? (size_t)(a.R * p.kb) * 2 : tiles16 ? (size_t)(a.R / 16 * p.kb) * 4 : 0);
  Workspace ws;
  void* base = nullptr;
  QUARTET_TRY(ws.get(fn, cv.used, &base));
  uint32_t* pa = (uint32_t*)((char*)base + off_pa);
  uint32_t* pb = (uint32_t*)((char*)base + off_pb);
  void* extra = (char*)base + off_extra;

  if (mx) {
    const int grid = grid_for(mx_pass<Front>, front.units());
    p.out_partials = pa;
    mx_pass<Front><<<grid, kThreads, 0, st>>>(front, p);
    QUARTET_TRY(check_launch(fn));
    p.out_partials = nullptr;
    p.in_partials = pa;
    p.n_in = grid;
    return launch_finalize(fn, p, true);
  }

  if (eden_b) {
    const int grid = grid_for(eden_b_pass1<Front>, front.units());
    p.prescale = (uint16_t*)extra;
    p.out_partials = pa;
    p.out_partials2 = pb;
    eden_b_pass1<Front><<<grid, kThreads, 0, st>>>(front, p);
    QUARTET_TRY(check_launch(fn));
    p.out_partials = p.out_partials2 = nullptr;
    p.in_partials = pa;
    p.in_partials2 = pb;
    p.n_in = grid;
    return launch_eden_b_pass2(fn, p);
  }

  // NVFP4 with a tensor abs-max
  const bool need_absmax = !a.amax_override || tiles16;
  if (tiles16) {
    p.tile_max = (uint32_t*)extra;
    QUARTET_CUDA_TRY(fn, cudaMemsetAsync(extra, 0, (size_t)(a.R / 16 * p.kb) * 4, st));
  }
  if (need_absmax) {
    const int grid = grid_for(absmax_pass<Front>, front.units());
    p.out_partials = pa;
    absmax_pass<Front><<<grid, kThreads, 0, st>>>(front, p);
    QUARTET_TRY(check_launch(fn));
    p.out_partials = nullptr;
    p.in_partials = pa;
    p.n_in = grid;
  } else {
    p.out_partials = pb;  // the quantize pass keeps the abs-max itself (non-finite check, amax_out)
  }
  // after an abs-max pass, sweep backwards: the first blocks read are the ones still in L2
  Front second = front;
  second.reverse = need_absmax;
  int grid = 0;
  int32_t rc = QUARTET_OK;
  switch (a.method) {
#define QUARTET_NVFP4_CASE(M)                           \
  case M:                                               \
    grid = grid_nvfp4<Front, M>(second);                \
    rc = launch_nvfp4<Front, M>(fn, second, p, grid);   \
    break;
    QUARTET_NVFP4_CASE(QUARTET_METHOD_RTN)
    QUARTET_NVFP4_CASE(QUARTET_METHOD_RTN_16X16)
    QUARTET_NVFP4_CASE(QUARTET_METHOD_FOUR_SIX)
    QUARTET_NVFP4_CASE(QUARTET_METHOD_SR)
    QUARTET_NVFP4_CASE(QUARTET_METHOD_SR_FOUR_SIX)
    QUARTET_NVFP4_CASE(QUARTET_METHOD_EDEN_A)
#undef QUARTET_NVFP4_CASE
    default: return fail(QUARTET_ERR_INTERNAL, fn, "unexpected NVFP4 method %d", a.method);
  }
  QUARTET_TRY(rc);
  if (need_absmax) return QUARTET_OK;
  p.in_partials = pb;
  p.out_partials = nullptr;
  p.n_in = grid;
  return launch_finalize(fn, p, false);
}

int32_t run_quantize(const char* fn, const DenseRows& front, const QuantizeArgs& a) {
  return run_quantize_impl(fn, front, a);
}
int32_t run_quantize(const char* fn, const Tiled& front, const QuantizeArgs& a) { return run_quantize_impl(fn, front, a); }

}  // namespace cuda
}  // namespace quartet
