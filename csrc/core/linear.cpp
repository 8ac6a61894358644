// linear.cpp — the linear layers of numerics.md §6 as one engine driven by small recipe descriptions.
//
// A recipe says, for each of the six GEMM operands (forward X and W; dgrad E and W^T; wgrad E^T and X^T),
// which quantizer runs on it, with which Hadamard rotation and signs, and where it comes from (the input,
// a re-quantization of the saved forward tensor, or the exact transpose of 16x16 blocks). The engine runs
// the same three GEMMs for every recipe on either backend; every buffer is allocated once, at creation.
#include <string.h>

#include <new>

#include "core/numerics.h"
#include "core/ops.h"
#include "core/status.h"
#include "core/checks.h"

namespace quartet {
namespace {

enum class Source { kInput, kRequantizeSaved, kTransposeSaved16 };
enum class Signs { kNone, kRandom, kFixedTE16, kAllPlus };

struct OperandRule {
  int32_t format;
  int32_t method;
  int32_t rht_dim;
  Signs signs;
  Source source;
};

struct Recipe {
  OperandRule x, w;                            // forward, along K
  OperandRule e_dgrad, wt_dgrad;               // dX = E W: along N
  OperandRule et_wgrad, xt_wgrad;              // dW = E^T X: along T
  bool save_x_bf16;                            // NVIDIA keeps the high-precision X for X^T
  bool quest_masks;                            // Quartet v1: trust masks + inverse fixed Hadamard
  float backward_alpha;                        // 16/9 for the range-matched MXFP4 backward
};

constexpr int32_t NV = QUARTET_FORMAT_NVFP4, MX = QUARTET_FORMAT_MXFP4;

// Transformer Engine's fixed 16 RHT signs "+ + + - + - - - - - - + - + - -" (bit j set = -1).
constexpr uint32_t kTeSigns16 = (1u << 3) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8) | (1u << 9) | (1u << 10) |
                                (1u << 12) | (1u << 14) | (1u << 15);

Recipe make_recipe(int32_t recipe, int32_t flags, int32_t rht_dim) {
  Recipe r{};
  r.backward_alpha = 1.0f;
  const bool four_six = flags & QUARTET_LINEAR_FOUR_SIX;
  switch (recipe) {
    case QUARTET_RECIPE_QUARTET2: {
      int32_t fwd = four_six ? QUARTET_METHOD_FOUR_SIX : QUARTET_METHOD_RTN;
      int32_t bwd = (flags & QUARTET_LINEAR_EDEN_A) ? QUARTET_METHOD_EDEN_A : QUARTET_METHOD_EDEN_B;
      if (flags & QUARTET_LINEAR_RTN_BACKWARD) bwd = QUARTET_METHOD_RTN;
      int32_t d = rht_dim ? rht_dim : 128;
      r.x = r.w = {NV, fwd, 0, Signs::kNone, Source::kInput};
      r.e_dgrad = r.et_wgrad = {NV, bwd, d, Signs::kRandom, Source::kInput};
      r.wt_dgrad = r.xt_wgrad = {NV, bwd, d, Signs::kRandom, Source::kRequantizeSaved};
      break;
    }
    case QUARTET_RECIPE_NVIDIA: {
      int32_t d = rht_dim ? rht_dim : 16;
      Signs s = (flags & QUARTET_LINEAR_REDRAW_SIGNS) || d != 16 ? Signs::kRandom : Signs::kFixedTE16;
      r.x = {NV, four_six ? QUARTET_METHOD_FOUR_SIX : QUARTET_METHOD_RTN, 0, Signs::kNone, Source::kInput};
      r.w = {NV, QUARTET_METHOD_RTN_16X16, 0, Signs::kNone, Source::kInput};
      r.e_dgrad = {NV, QUARTET_METHOD_SR, 0, Signs::kNone, Source::kInput};
      r.wt_dgrad = {NV, QUARTET_METHOD_RTN_16X16, 0, Signs::kNone, Source::kTransposeSaved16};
      r.et_wgrad = {NV, QUARTET_METHOD_SR, d, s, Source::kInput};
      r.xt_wgrad = {NV, QUARTET_METHOD_RTN, d, s, Source::kInput};  // from the saved BF16 X
      r.save_x_bf16 = true;
      break;
    }
    case QUARTET_RECIPE_TETRAJET2: {
      int32_t d = rht_dim ? rht_dim : 32;
      r.x = r.w = {NV, QUARTET_METHOD_RTN, 0, Signs::kNone, Source::kInput};
      r.e_dgrad = r.et_wgrad = {NV, QUARTET_METHOD_SR, d, Signs::kRandom, Source::kInput};
      r.wt_dgrad = r.xt_wgrad = {NV, QUARTET_METHOD_SR, d, Signs::kRandom, Source::kRequantizeSaved};
      break;
    }
    case QUARTET_RECIPE_QUARTET1: {
      int32_t d = rht_dim ? rht_dim : 32;
      int32_t bwd = (flags & QUARTET_LINEAR_SR_BACKWARD) ? QUARTET_METHOD_MX_SR_RM : QUARTET_METHOD_MX_RTN_RM;
      r.x = r.w = {MX, QUARTET_METHOD_MX_QUEST, 32, Signs::kAllPlus, Source::kInput};
      r.e_dgrad = r.et_wgrad = {MX, bwd, d, Signs::kRandom, Source::kInput};
      r.wt_dgrad = r.xt_wgrad = {MX, bwd, d, Signs::kRandom, Source::kRequantizeSaved};
      r.quest_masks = true;
      r.backward_alpha = 16.0f / 9.0f;
      break;
    }
    default:
      break;
  }
  return r;
}

struct QBuf {
  uint8_t* codes = nullptr;
  uint8_t* scales = nullptr;
  float* g = nullptr;
  uint8_t* mask = nullptr;
  int64_t R = 0, K = 0;
  int32_t format = NV;
};

}  // namespace

struct Linear {
  int32_t backend, recipe, flags, rht_dim;
  int64_t K, N, Tmax, T = 0;
  uint32_t layer;
  Recipe spec;
  bool forward_quantized, backward_quantized, have_forward = false, amax_valid = false;
  void* arena = nullptr;
  int64_t arena_bytes = 0, saved_bytes = 0;
  QBuf xq, wq, e1, wt1, e2, xt2;
  uint16_t* x_bf16 = nullptr;  // saved BF16 X (bf16 recipe, nvidia, backward-only) or deq(Xq) scratch
  uint16_t* w_bf16 = nullptr;  // BF16 W (dense GEMMs)
  float* tmp = nullptr;        // Quartet v1: the Hadamard-domain gradient before mask + inverse rotation
  float* amax = nullptr;       // delayed abs-max of E and E^T, two pairs of slots (backend memory)
  int amax_parity = 0;
};

namespace {

#define DISPATCH(backend, op, args) ((backend) == QUARTET_BACKEND_CPU ? cpu::op(args) : cuda::op(args))

int32_t backend_alloc(int32_t backend, int64_t bytes, void** p) {
  if (backend == QUARTET_BACKEND_CUDA) return cuda::malloc_bytes(bytes, p);
  *p = aligned_alloc(256, (size_t)((bytes + 255) & ~int64_t(255)));
  return *p ? QUARTET_OK : fail(QUARTET_ERR_OUT_OF_MEMORY, "quartet_linear_create", "cannot allocate %lld bytes", (long long)bytes);
}

void backend_free(int32_t backend, void* p) {
  if (!p) return;
  if (backend == QUARTET_BACKEND_CUDA) cuda::free_ptr(p);
  else free(p);
}

// Lays out buffers in one arena: first pass measures (base == nullptr), second pass assigns.
struct Carver {
  char* base;
  int64_t off = 0;
  template <class T>
  T* take(int64_t bytes) {
    if (bytes <= 0) return nullptr;
    T* p = base ? reinterpret_cast<T*>(base + off) : nullptr;
    off += (bytes + 255) & ~int64_t(255);
    return p;
  }
  void qbuf(QBuf& q, int32_t format, int64_t R, int64_t K, bool mask) {
    q.format = format;
    q.R = R;
    q.K = K;
    q.codes = take<uint8_t>(R * K / 2);
    q.scales = take<uint8_t>(R * K / block_size(format));
    q.g = take<float>(4);
    q.mask = mask ? take<uint8_t>(R * K / 8) : nullptr;
  }
};

void layout(Linear& L, char* base) {
  Carver c{base};
  const Recipe& s = L.spec;
  const int64_t T = L.Tmax, K = L.K, N = L.N;
  if (L.forward_quantized) {
    c.qbuf(L.xq, s.x.format, T, K, s.quest_masks);
    c.qbuf(L.wq, s.w.format, N, K, s.quest_masks);
  } else if (L.backward_quantized && s.wt_dgrad.source == Source::kTransposeSaved16) {
    c.qbuf(L.wq, NV, N, K, false);  // backward-only NVIDIA: W is quantized 16x16 in the backward
  }
  bool need_x_bf16 = !L.forward_quantized || s.save_x_bf16 || !L.backward_quantized;
  L.x_bf16 = need_x_bf16 ? c.take<uint16_t>(T * K * 2) : nullptr;
  L.w_bf16 = (!L.forward_quantized || !L.backward_quantized) ? c.take<uint16_t>(N * K * 2) : nullptr;
  if (L.backward_quantized) {
    c.qbuf(L.e1, s.e_dgrad.format, T, N, false);
    c.qbuf(L.wt1, s.wt_dgrad.format, K, N, false);
    c.qbuf(L.e2, s.et_wgrad.format, N, T, false);
    c.qbuf(L.xt2, s.xt_wgrad.format, K, T, false);
  }
  bool masks = s.quest_masks && L.forward_quantized;
  L.tmp = masks ? c.take<float>((T > N ? T : N) * K * 4) : nullptr;
  L.amax = c.take<float>(4 * 4);
  L.arena_bytes = c.off;
}

void signs_for(const Linear& L, const OperandRule& r, uint32_t seed, uint32_t step, RhtSpec* out) {
  *out = RhtSpec{};
  out->dim = r.rht_dim;
  if (r.rht_dim == 0) return;
  switch (r.signs) {
    case Signs::kNone:
    case Signs::kAllPlus:
      out->has_signs = false;
      break;
    case Signs::kFixedTE16:
      out->has_signs = true;
      out->signs[0] = kTeSigns16;
      break;
    case Signs::kRandom:
      out->has_signs = true;
      rht_signs128(seed, step, L.layer, out->signs);  // one set per backward call, shared by all operands
      break;
  }
}

int32_t quantize_into(const Linear& L, const OperandRule& r, const void* x, int32_t dtype, int64_t rows, int64_t cols,
                      bool transpose, uint32_t seed, uint32_t step, uint32_t role, const float* amax_override,
                      float* amax_out, QBuf& out) {
  QuantizeArgs a{};
  a.format = r.format;
  a.method = r.method;
  a.x = x;
  a.x_dtype = dtype;
  a.rows = rows;
  a.cols = cols;
  a.transpose = transpose;
  a.R = transpose ? cols : rows;
  a.K = transpose ? rows : cols;
  signs_for(L, r, seed, step, &a.rht);
  a.seed = seed;
  a.step = step;
  a.tag = (L.layer << 8) | role;
  a.amax_override = amax_override;
  a.amax_out = amax_out;
  a.scale_layout = QUARTET_SCALES_LINEAR;
  a.codes = out.codes;
  a.scales = out.scales;
  a.tensor_scale = out.g;
  a.trust_mask = out.mask;
  out.R = a.R;
  out.K = a.K;
  return DISPATCH(L.backend, quantize, a);
}

int32_t requantize_into(const Linear& L, const OperandRule& r, const QBuf& src, uint32_t seed, uint32_t step,
                        uint32_t role, QBuf& out) {
  RequantizeArgs a{};
  a.src_format = src.format;
  a.src_codes = src.codes;
  a.src_scales = src.scales;
  a.src_tensor_scale = src.format == NV ? src.g : nullptr;
  a.rows = src.R;
  a.cols = src.K;
  a.format = r.format;
  a.method = r.method;
  signs_for(L, r, seed, step, &a.rht);
  a.seed = seed;
  a.step = step;
  a.tag = (L.layer << 8) | role;
  a.scale_layout = QUARTET_SCALES_LINEAR;
  a.codes = out.codes;
  a.scales = out.scales;
  a.tensor_scale = out.g;
  out.R = src.K;
  out.K = src.R;
  return DISPATCH(L.backend, requantize, a);
}

int32_t fp4_gemm(const Linear& L, const QBuf& a, const QBuf& b, float alpha, bool accumulate, void* out, int32_t out_dtype) {
  Fp4GemmArgs g{a.format, a.codes, a.scales, a.format == NV ? a.g : nullptr, b.codes, b.scales,
                a.format == NV ? b.g : nullptr, a.R, b.R, a.K, QUARTET_SCALES_LINEAR, alpha, accumulate, out, out_dtype};
  return DISPATCH(L.backend, gemm_fp4, g);
}

int32_t dense_gemm(const Linear& L, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void* a, int64_t lda,
                   const void* b, int64_t ldb, float beta, void* c, int32_t c_dtype) {
  GemmArgs g{QUARTET_DTYPE_BF16, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, n, c_dtype};
  return DISPATCH(L.backend, gemm, g);
}

int32_t to_bf16(const Linear& L, const void* x, int32_t dtype, int64_t n, uint16_t* out) {
  ConvertArgs c{x, dtype, out, QUARTET_DTYPE_BF16, n};
  return DISPATCH(L.backend, convert, c);
}

int32_t dequant_bf16(const Linear& L, const QBuf& q, uint16_t* out) {
  DequantizeArgs d{q.format, q.codes, q.scales, q.format == NV ? q.g : nullptr, q.R, q.K, QUARTET_SCALES_LINEAR, out,
                   QUARTET_DTYPE_BF16};
  return DISPATCH(L.backend, dequantize, d);
}

// Quartet v1: out (+)= H32(tmp (.) mask) — the straight-through gradient of QuEST, back to the input domain.
int32_t unrotate_masked(const Linear& L, const float* tmp, const uint8_t* mask, int64_t rows, int64_t cols, void* out,
                        int32_t out_dtype, bool accumulate) {
  MaskRhtArgs m{};
  m.x = tmp;
  m.mask = mask;
  m.rows = rows;
  m.cols = cols;
  m.rht.dim = 32;
  m.out = out;
  m.out_dtype = out_dtype;
  m.accumulate = accumulate;
  return DISPATCH(L.backend, mask_rht, m);
}

const char* recipe_name(int32_t r) {
  static const char* names[] = {"bf16", "quartet2", "nvidia", "tetrajet2", "quartet1"};
  return r >= 0 && r <= 4 ? names[r] : "?";
}

int32_t check_shapes(const char* fn, int32_t recipe, int32_t flags, int32_t rht_dim, int64_t K, int64_t N, int64_t T) {
  auto need = [&](int64_t v, int64_t q, const char* what) -> int32_t {
    if (v % q == 0) return QUARTET_OK;
    return fail(QUARTET_ERR_SHAPE, fn, "%s must be a multiple of %lld for recipe %s, got %lld", what, (long long)q,
                recipe_name(recipe), (long long)v);
  };
  if (recipe == QUARTET_RECIPE_BF16) return QUARTET_OK;
  Recipe s = make_recipe(recipe, flags, rht_dim);
  int64_t blk = s.x.format == MX ? 32 : 16;
  QUARTET_TRY(need(K, blk, "in_features (K)"));
  QUARTET_TRY(need(N, blk, "out_features (N)"));
  QUARTET_TRY(need(T, blk, "max_tokens (T)"));
  if (!(flags & QUARTET_LINEAR_FORWARD_ONLY)) {
    int64_t dn = s.e_dgrad.rht_dim ? s.e_dgrad.rht_dim : 1, dt = s.et_wgrad.rht_dim ? s.et_wgrad.rht_dim : 1;
    QUARTET_TRY(need(N, dn, "out_features (N, rotated by the dgrad RHT)"));
    QUARTET_TRY(need(T, dt, "tokens (T, rotated by the wgrad RHT)"));
  }
  if (recipe == QUARTET_RECIPE_QUARTET1) QUARTET_TRY(need(K, 32, "in_features (K, fixed Hadamard-32)"));
  return QUARTET_OK;
}

}  // namespace
}  // namespace quartet

using namespace quartet;

extern "C" {

QUARTET_API int32_t quartet_linear_create(int32_t backend, int32_t recipe, int32_t flags, int32_t rht_dim,
                                          int64_t in_features, int64_t out_features, int64_t max_tokens,
                                          uint32_t layer_id, void** handle) {
  const char* fn = "quartet_linear_create";
  if (!handle) return fail(QUARTET_ERR_NULL_POINTER, fn, "handle must not be NULL");
  *handle = nullptr;
  QUARTET_TRY(check_backend(fn, backend));
  if (recipe < QUARTET_RECIPE_BF16 || recipe > QUARTET_RECIPE_QUARTET1)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "recipe must be in [0, 4] (bf16, quartet2, nvidia, tetrajet2, quartet1), got %d", recipe);
  if (flags < 0 || flags > 255) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "flags must be a combination of QUARTET_LINEAR_* bits, got %d", flags);
  if ((flags & QUARTET_LINEAR_FORWARD_ONLY) && (flags & QUARTET_LINEAR_BACKWARD_ONLY))
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "FORWARD_ONLY and BACKWARD_ONLY exclude each other");
  if ((flags & QUARTET_LINEAR_DELAYED_AMAX) && !(flags & QUARTET_LINEAR_EDEN_A))
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "DELAYED_AMAX needs EDEN_A (variant B has no abs-max pass)");
  // NVIDIA + FOUR_SIX: 4/6 applies to X only; the 16x16 weight blocks stay RTN (a simplification of §6.4).
  if (rht_dim != 0 && rht_dim != 16 && rht_dim != 32 && rht_dim != 128)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "rht_dim must be 0 (recipe default), 16, 32 or 128, got %d", rht_dim);
  if (in_features <= 0 || out_features <= 0 || max_tokens <= 0)
    return fail(QUARTET_ERR_SHAPE, fn, "in_features, out_features and max_tokens must be > 0, got %lld, %lld, %lld",
                (long long)in_features, (long long)out_features, (long long)max_tokens);
  if (layer_id >= (1u << 24)) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "layer_id must be < 2^24, got %u", layer_id);
  QUARTET_TRY(check_shapes(fn, recipe, flags, rht_dim, in_features, out_features, max_tokens));

  Linear* L = new (std::nothrow) Linear();
  if (!L) return fail(QUARTET_ERR_OUT_OF_MEMORY, fn, "cannot allocate the layer");
  L->backend = backend;
  L->recipe = recipe;
  L->flags = flags;
  L->rht_dim = rht_dim;
  L->K = in_features;
  L->N = out_features;
  L->Tmax = max_tokens;
  L->layer = layer_id;
  L->spec = make_recipe(recipe, flags, rht_dim);
  L->forward_quantized = recipe != QUARTET_RECIPE_BF16 && !(flags & QUARTET_LINEAR_BACKWARD_ONLY);
  L->backward_quantized = recipe != QUARTET_RECIPE_BF16 && !(flags & QUARTET_LINEAR_FORWARD_ONLY);
  layout(*L, nullptr);
  int32_t st = backend_alloc(backend, L->arena_bytes, &L->arena);
  if (st != QUARTET_OK) {
    delete L;
    return st;
  }
  layout(*L, static_cast<char*>(L->arena));
  // what survives from forward to backward at Tmax
  const int64_t T = max_tokens, K = in_features, N = out_features;
  auto qbytes = [&](const QBuf& q) { return q.codes ? q.R * q.K / 2 + q.R * q.K / block_size(q.format) + 4 + (q.mask ? q.R * q.K / 8 : 0) : 0; };
  L->saved_bytes = (L->forward_quantized ? qbytes(L->xq) + qbytes(L->wq) : 0) +
                   ((L->spec.save_x_bf16 || !L->forward_quantized) ? T * K * 2 : 0) +
                   (!L->forward_quantized ? N * K * 2 : 0);
  *handle = L;
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_linear_destroy(void* handle) {
  if (!handle) return QUARTET_OK;
  Linear* L = static_cast<Linear*>(handle);
  backend_free(L->backend, L->arena);
  delete L;
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_linear_saved_bytes(void* handle, int64_t* bytes) {
  const char* fn = "quartet_linear_saved_bytes";
  if (!handle) return fail(QUARTET_ERR_NULL_POINTER, fn, "handle must not be NULL");
  if (!bytes) return fail(QUARTET_ERR_NULL_POINTER, fn, "bytes must not be NULL");
  *bytes = static_cast<Linear*>(handle)->saved_bytes;
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_linear_forward(void* handle, const void* x, int32_t x_dtype, int64_t tokens,
                                           const float* w, void* y, uint32_t seed, uint32_t step) {
  const char* fn = "quartet_linear_forward";
  if (!handle) return fail(QUARTET_ERR_NULL_POINTER, fn, "handle must not be NULL");
  Linear& L = *static_cast<Linear*>(handle);
  if (!x) return fail(QUARTET_ERR_NULL_POINTER, fn, "x must not be NULL");
  if (!w) return fail(QUARTET_ERR_NULL_POINTER, fn, "w must not be NULL");
  if (!y) return fail(QUARTET_ERR_NULL_POINTER, fn, "y must not be NULL");
  if (x_dtype != QUARTET_DTYPE_F32 && x_dtype != QUARTET_DTYPE_BF16)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "x_dtype must be 0 (f32) or 1 (bf16), got %d", x_dtype);
  if (tokens <= 0 || tokens > L.Tmax)
    return fail(QUARTET_ERR_SHAPE, fn, "tokens must be in [1, max_tokens = %lld], got %lld", (long long)L.Tmax, (long long)tokens);
  QUARTET_TRY(check_shapes(fn, L.recipe, L.flags, L.rht_dim, L.K, L.N, tokens));
  const Recipe& s = L.spec;
  const int64_t T = tokens, K = L.K, N = L.N;
  L.have_forward = false;
  L.T = T;
  if (L.forward_quantized) {
    QUARTET_TRY(quantize_into(L, s.x, x, x_dtype, T, K, false, seed, step, QUARTET_ROLE_X, nullptr, nullptr, L.xq));
    QUARTET_TRY(quantize_into(L, s.w, w, QUARTET_DTYPE_F32, N, K, false, seed, step, QUARTET_ROLE_W, nullptr, nullptr, L.wq));
    QUARTET_TRY(fp4_gemm(L, L.xq, L.wq, 1.0f, false, y, QUARTET_DTYPE_BF16));
    if (s.save_x_bf16) QUARTET_TRY(to_bf16(L, x, x_dtype, T * K, L.x_bf16));
  } else {
    QUARTET_TRY(to_bf16(L, x, x_dtype, T * K, L.x_bf16));
    QUARTET_TRY(to_bf16(L, w, QUARTET_DTYPE_F32, N * K, L.w_bf16));
    QUARTET_TRY(dense_gemm(L, false, true, T, N, K, L.x_bf16, K, L.w_bf16, K, 0.0f, y, QUARTET_DTYPE_BF16));
  }
  L.have_forward = true;
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_linear_backward(void* handle, const void* e, const float* w, void* dx, float* dw,
                                            int32_t accumulate_dw, uint32_t seed, uint32_t step) {
  const char* fn = "quartet_linear_backward";
  if (!handle) return fail(QUARTET_ERR_NULL_POINTER, fn, "handle must not be NULL");
  Linear& L = *static_cast<Linear*>(handle);
  if (!e) return fail(QUARTET_ERR_NULL_POINTER, fn, "e must not be NULL");
  if (!w) return fail(QUARTET_ERR_NULL_POINTER, fn, "w must not be NULL");
  if (!dw) return fail(QUARTET_ERR_NULL_POINTER, fn, "dw must not be NULL");
  if (accumulate_dw != 0 && accumulate_dw != 1) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "accumulate_dw must be 0 or 1, got %d", accumulate_dw);
  if (!L.have_forward) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "no forward to differentiate: call quartet_linear_forward first");
  const Recipe& s = L.spec;
  const int64_t T = L.T, K = L.K, N = L.N;
  const bool acc = accumulate_dw != 0;
  const bool masks = s.quest_masks && L.forward_quantized;

  if (!L.backward_quantized) {
    // BF16 backward: on the forward's own operands (dequantized when the forward was quantized)
    if (L.forward_quantized) {
      QUARTET_TRY(dequant_bf16(L, L.wq, L.w_bf16));
      QUARTET_TRY(dequant_bf16(L, L.xq, L.x_bf16));
    }
    if (dx) {
      if (masks) {
        QUARTET_TRY(dense_gemm(L, false, false, T, K, N, e, N, L.w_bf16, K, 0.0f, L.tmp, QUARTET_DTYPE_F32));
        QUARTET_TRY(unrotate_masked(L, L.tmp, L.xq.mask, T, K, dx, QUARTET_DTYPE_BF16, false));
      } else {
        QUARTET_TRY(dense_gemm(L, false, false, T, K, N, e, N, L.w_bf16, K, 0.0f, dx, QUARTET_DTYPE_BF16));
      }
    }
    if (masks) {
      QUARTET_TRY(dense_gemm(L, true, false, N, K, T, e, N, L.x_bf16, K, 0.0f, L.tmp, QUARTET_DTYPE_F32));
      QUARTET_TRY(unrotate_masked(L, L.tmp, L.wq.mask, N, K, dw, QUARTET_DTYPE_F32, acc));
    } else {
      QUARTET_TRY(dense_gemm(L, true, false, N, K, T, e, N, L.x_bf16, K, acc ? 1.0f : 0.0f, dw, QUARTET_DTYPE_F32));
    }
    return QUARTET_OK;
  }

  const bool delayed = (L.flags & QUARTET_LINEAR_DELAYED_AMAX) != 0;
  // Delayed abs-max: read last step's values from one pair of slots, write this step's into the other pair,
  // then swap, so no kernel ever reads and writes the same slot.
  float* prev = L.amax + 2 * L.amax_parity;
  float* next = L.amax + 2 * (1 - L.amax_parity);
  const float* amax_e = delayed && L.amax_valid ? prev + 0 : nullptr;
  const float* amax_et = delayed && L.amax_valid ? prev + 1 : nullptr;
  float* amax_out_e = delayed ? next + 0 : nullptr;
  float* amax_out_et = delayed ? next + 1 : nullptr;

  // dgrad: dX[T, K] = E'[T, N] W'[K, N]^T, both along N
  if (dx) {
    QUARTET_TRY(quantize_into(L, s.e_dgrad, e, QUARTET_DTYPE_BF16, T, N, false, seed, step, QUARTET_ROLE_E, amax_e,
                              amax_out_e, L.e1));
    if (!L.forward_quantized) {
      if (s.wt_dgrad.source == Source::kTransposeSaved16) {
        OperandRule w16 = s.w;
        QUARTET_TRY(quantize_into(L, w16, w, QUARTET_DTYPE_F32, N, K, false, seed, step, QUARTET_ROLE_W, nullptr, nullptr, L.wq));
      } else {
        QUARTET_TRY(quantize_into(L, s.wt_dgrad, w, QUARTET_DTYPE_F32, N, K, true, seed, step, QUARTET_ROLE_WT, nullptr,
                                  nullptr, L.wt1));
      }
    }
    if (s.wt_dgrad.source == Source::kTransposeSaved16) {
      Transpose16Args t{L.wq.codes, L.wq.scales, L.wq.g, N, K, L.wt1.codes, L.wt1.scales, L.wt1.g};
      QUARTET_TRY(DISPATCH(L.backend, transpose16, t));
      L.wt1.R = K;
      L.wt1.K = N;
    } else if (L.forward_quantized) {
      QUARTET_TRY(requantize_into(L, s.wt_dgrad, L.wq, seed, step, QUARTET_ROLE_WT, L.wt1));
    }
    if (masks) {
      QUARTET_TRY(fp4_gemm(L, L.e1, L.wt1, s.backward_alpha, false, L.tmp, QUARTET_DTYPE_F32));
      QUARTET_TRY(unrotate_masked(L, L.tmp, L.xq.mask, T, K, dx, QUARTET_DTYPE_BF16, false));
    } else {
      QUARTET_TRY(fp4_gemm(L, L.e1, L.wt1, s.backward_alpha, false, dx, QUARTET_DTYPE_BF16));
    }
  }

  // wgrad: dW[N, K] = E''[N, T] X''[K, T]^T, both along T
  QUARTET_TRY(quantize_into(L, s.et_wgrad, e, QUARTET_DTYPE_BF16, T, N, true, seed, step, QUARTET_ROLE_ET, amax_et,
                            amax_out_et, L.e2));
  if (s.xt_wgrad.source == Source::kRequantizeSaved && L.forward_quantized) {
    QUARTET_TRY(requantize_into(L, s.xt_wgrad, L.xq, seed, step, QUARTET_ROLE_XT, L.xt2));
  } else {
    QUARTET_TRY(quantize_into(L, s.xt_wgrad, L.x_bf16, QUARTET_DTYPE_BF16, T, K, true, seed, step, QUARTET_ROLE_XT,
                              nullptr, nullptr, L.xt2));
  }
  if (masks) {
    QUARTET_TRY(fp4_gemm(L, L.e2, L.xt2, s.backward_alpha, false, L.tmp, QUARTET_DTYPE_F32));
    QUARTET_TRY(unrotate_masked(L, L.tmp, L.wq.mask, N, K, dw, QUARTET_DTYPE_F32, acc));
  } else {
    QUARTET_TRY(fp4_gemm(L, L.e2, L.xt2, s.backward_alpha, acc, dw, QUARTET_DTYPE_F32));
  }
  if (delayed) {
    L.amax_valid = true;
    L.amax_parity = 1 - L.amax_parity;
  }
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_linear_amax_state(void* handle, float* values2, int32_t* valid, int32_t set) {
  const char* fn = "quartet_linear_amax_state";
  if (!handle) return fail(QUARTET_ERR_NULL_POINTER, fn, "handle must not be NULL");
  if (!values2) return fail(QUARTET_ERR_NULL_POINTER, fn, "values2 must not be NULL");
  if (!valid) return fail(QUARTET_ERR_NULL_POINTER, fn, "valid must not be NULL");
  if (set != 0 && set != 1) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "set must be 0 or 1, got %d", set);
  Linear& L = *static_cast<Linear*>(handle);
  float* prev = L.amax + 2 * L.amax_parity;  // the pair the next backward reads
  if (set == 0) {
    *valid = L.amax_valid ? 1 : 0;
    if (L.backend == QUARTET_BACKEND_CUDA) return cuda::copy(values2, prev, 2 * sizeof(float), 1);
    values2[0] = prev[0];
    values2[1] = prev[1];
    return QUARTET_OK;
  }
  if (*valid != 0 && *valid != 1) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "*valid must be 0 or 1, got %d", *valid);
  for (int i = 0; i < 2; ++i)
    if (!(values2[i] >= 0.0f) || !is_finite(values2[i]))
      return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "values2[%d] must be finite and >= 0, got %g", i, (double)values2[i]);
  if (L.backend == QUARTET_BACKEND_CUDA) QUARTET_TRY(cuda::copy(prev, values2, 2 * sizeof(float), 0));
  else {
    prev[0] = values2[0];
    prev[1] = values2[1];
  }
  L.amax_valid = *valid != 0;
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_linear_operand(void* handle, int32_t which, const uint8_t** codes, const uint8_t** scales,
                                           const float** tensor_scale, int64_t* rows, int64_t* cols, int32_t* format) {
  const char* fn = "quartet_linear_operand";
  if (!handle) return fail(QUARTET_ERR_NULL_POINTER, fn, "handle must not be NULL");
  if (!codes || !scales || !tensor_scale || !rows || !cols || !format)
    return fail(QUARTET_ERR_NULL_POINTER, fn, "codes, scales, tensor_scale, rows, cols and format must not be NULL");
  Linear& L = *static_cast<Linear*>(handle);
  const QBuf* q[] = {&L.xq, &L.wq, &L.e1, &L.wt1, &L.e2, &L.xt2};
  if (which < 0 || which > 5) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "which must be in [0, 5], got %d", which);
  const QBuf& b = *q[which];
  if (!b.codes) return fail(QUARTET_ERR_UNSUPPORTED, fn, "operand %d is not quantized by recipe %s with these flags", which, recipe_name(L.recipe));
  *codes = b.codes;
  *scales = b.scales;
  *tensor_scale = b.format == NV ? b.g : nullptr;
  *rows = b.R;
  *cols = b.K;
  *format = b.format;
  return QUARTET_OK;
}

}  // extern "C"
