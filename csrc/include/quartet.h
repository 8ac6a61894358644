/*
 * quartet.h — the one public header of libquartet, the native core of quartet-ii.
 *
 * NVFP4 / MXFP4 fully-quantized training kernels (Quartet II and Quartet) behind a plain C ABI that
 * bun:ffi (or any FFI) can call. The algorithms are defined in shared/spec/numerics.md; the packaging
 * rules in shared/spec/contract.md. Section numbers below (§x.y) refer to numerics.md.
 *
 * ABI rules
 *  - Every function returns an int32_t status: QUARTET_OK (0) or a negative quartet_status code. The one
 *    exception is quartet_last_error(), which returns the thread-local message of the last failure on the
 *    calling thread (naming the function, the argument and the expected value).
 *  - Shapes are int64_t. No struct is passed by value. Nothing prints, aborts or exits.
 *  - `backend` selects where the data lives and where the work runs: QUARTET_BACKEND_CPU (host pointers,
 *    e.g. TypedArrays) or QUARTET_BACKEND_CUDA (device pointers from quartet_malloc). Small control
 *    arrays (RHT sign masks, Philox counters) are always host pointers.
 *  - CUDA work is asynchronous on the library's stream; copies to the host and quartet_sync() synchronize.
 *    An asynchronous kernel error is reported by the next call that synchronizes.
 *  - Ownership: memory from quartet_malloc is owned by the caller and released with quartet_free.
 *    Every other pointer argument is borrowed for the duration of the call (CPU) or until the stream
 *    reaches the operation (CUDA). Strings returned through `const char**` are owned by the library.
 *
 * Layouts
 *  - A quantized matrix is the logical row-major [R, K] matrix, blocked along K (16 for NVFP4, 32 for
 *    MXFP4). codes: [R, K/2] bytes, element 2j in the low nibble of byte j (§1.1). scales: [R, K/16]
 *    E4M3 (NVFP4) or [R, K/32] E8M0 (MXFP4) bytes, linear, or the 128x4 swizzled layout of §3.5 when
 *    scale_layout == QUARTET_SCALES_SWIZZLED (size from quartet_scales_bytes). tensor_scale: one float
 *    (NVFP4 only), the decode multiplier g of §3.1.
 */
#ifndef QUARTET_H
#define QUARTET_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define QUARTET_API __declspec(dllexport)
#else
#define QUARTET_API __attribute__((visibility("default")))
#endif

#define QUARTET_VERSION_MAJOR 0
#define QUARTET_VERSION_MINOR 1
#define QUARTET_VERSION_PATCH 0

/* ---------------------------------------------------------------------------------------------------- */
/* Status codes                                                                                          */

typedef enum quartet_status {
  QUARTET_OK = 0,
  QUARTET_ERR_INVALID_ARGUMENT = -1, /* an enum or scalar argument out of its range */
  QUARTET_ERR_NULL_POINTER = -2,     /* a required pointer was NULL */
  QUARTET_ERR_SHAPE = -3,            /* a dimension is <= 0 or not a multiple of what the op needs */
  QUARTET_ERR_NON_FINITE = -4,       /* the input holds NaN or Inf (quantizers reject it, §0) */
  QUARTET_ERR_UNSUPPORTED = -5,      /* backend, dtype, arch or method not available in this build/device */
  QUARTET_ERR_OUT_OF_MEMORY = -6,
  QUARTET_ERR_CUDA = -7,             /* a CUDA runtime or driver call failed (message has the CUDA error) */
  QUARTET_ERR_INTERNAL = -8
} quartet_status;

typedef enum quartet_backend { QUARTET_BACKEND_CPU = 0, QUARTET_BACKEND_CUDA = 1 } quartet_backend;

typedef enum quartet_dtype {
  QUARTET_DTYPE_F32 = 0,
  QUARTET_DTYPE_BF16 = 1,
  QUARTET_DTYPE_U8 = 2
} quartet_dtype;

typedef enum quartet_format { QUARTET_FORMAT_NVFP4 = 0, QUARTET_FORMAT_MXFP4 = 1 } quartet_format;

typedef enum quartet_method {
  /* NVFP4 (format QUARTET_FORMAT_NVFP4), 1x16 blocks unless said otherwise */
  QUARTET_METHOD_RTN = 0,          /* §5.1  Q(6, 448), round-to-nearest-even elements                  */
  QUARTET_METHOD_FOUR_SIX = 1,     /* §5.3  4/6 adaptive block scaling, M = 256                        */
  QUARTET_METHOD_SR = 2,           /* §5.4  Q(96/17, 448), stochastic elements (Philox stream 1)       */
  QUARTET_METHOD_SR_FOUR_SIX = 3,  /* §5.4  4/6 with SR (streams 1 and 4); biased, ablation only       */
  QUARTET_METHOD_EDEN_A = 4,       /* §5.6  MS-EDEN, paper form: abs-max pass, SR of the scale         */
  QUARTET_METHOD_EDEN_B = 5,       /* §5.7  MS-EDEN, post-hoc range alignment (E8M4 pre-scales)        */
  QUARTET_METHOD_RTN_16X16 = 6,    /* §5.2  RTN with 16x16 tiles (rows must be a multiple of 16)       */
  /* MXFP4 (format QUARTET_FORMAT_MXFP4), 1x32 blocks, E8M0 scales, no tensor scale */
  QUARTET_METHOD_MX_OCP = 7,       /* §4    OCP rule: 2^(floor(log2 amax) - 2), saturating RNE         */
  QUARTET_METHOD_MX_QUEST = 8,     /* §5.9  QuEST Gaussian scale + trust mask (pass rht_dim 32, no signs) */
  QUARTET_METHOD_MX_RTN_RM = 9,    /* §5.10 range-matched RTN (x 3/4); GEMM alpha 16/9                 */
  QUARTET_METHOD_MX_SR_RM = 10     /* §5.10 range-matched SR variant (stream 1)                         */
} quartet_method;

typedef enum quartet_scale_layout {
  QUARTET_SCALES_LINEAR = 0,   /* [R, K/block] row-major */
  QUARTET_SCALES_SWIZZLED = 1  /* 128x4 tiles of §3.5, rows padded to 128, scale columns to 4, pads 0 */
} quartet_scale_layout;

/* Philox streams and operand roles of §2 (tensor_tag = (layer_id << 8) | role). */
enum { QUARTET_STREAM_SR_ELEMENT = 1, QUARTET_STREAM_SR_SCALE = 2, QUARTET_STREAM_RHT_SIGNS = 3,
       QUARTET_STREAM_SR_ELEMENT_2 = 4 };
enum { QUARTET_ROLE_E = 1, QUARTET_ROLE_WT = 2, QUARTET_ROLE_ET = 3, QUARTET_ROLE_XT = 4,
       QUARTET_ROLE_X = 5, QUARTET_ROLE_W = 6 };

/* ---------------------------------------------------------------------------------------------------- */
/* Errors, version, build info                                                                           */

/* The message of the last failing call on this thread ("" if none). Owned by the library, valid until the
 * next failing call on the same thread. */
QUARTET_API const char* quartet_last_error(void);
QUARTET_API int32_t quartet_clear_error(void);

QUARTET_API int32_t quartet_version(int32_t* major, int32_t* minor, int32_t* patch);

/* JSON: {"version","source_hash","cuda":{"compiled","version","archs":[..]},"compiler","cpu_threads",
 *        "optional":{"cublasLt":{"found","detail"}},"devices":[..]}. Owned by the library; rebuilt on
 *        every call (devices and optional libraries are probed at run time). */
QUARTET_API int32_t quartet_build_info(const char** json);

/* ---------------------------------------------------------------------------------------------------- */
/* Backends, devices, memory                                                                             */

/* 1 if the backend can run on this machine (CPU always; CUDA when compiled in and a device is present). */
QUARTET_API int32_t quartet_backend_available(int32_t backend, int32_t* available);

QUARTET_API int32_t quartet_cpu_set_threads(int32_t threads); /* 0 = all hardware threads */
QUARTET_API int32_t quartet_cpu_get_threads(int32_t* threads);

/* Number of CUDA devices; 0 (and QUARTET_OK) when the build has no CUDA or no driver/device is found. */
QUARTET_API int32_t quartet_cuda_device_count(int32_t* count);
QUARTET_API int32_t quartet_cuda_set_device(int32_t device);
QUARTET_API int32_t quartet_cuda_get_device(int32_t* device);
/* name: caller buffer of name_capacity bytes (NUL-terminated, truncated if needed). */
QUARTET_API int32_t quartet_cuda_device_info(int32_t device, char* name, int64_t name_capacity,
                                            int32_t* cc_major, int32_t* cc_minor, int64_t* total_bytes,
                                            int32_t* sm_count);
QUARTET_API int32_t quartet_cuda_mem_info(int64_t* free_bytes, int64_t* total_bytes);
/* The library's stream for the current device (a cudaStream_t), for interop. */
QUARTET_API int32_t quartet_cuda_stream(void** stream);

/* Allocate `bytes` (> 0) on the backend, 256-byte aligned. CPU memory is host memory. */
QUARTET_API int32_t quartet_malloc(int32_t backend, int64_t bytes, void** ptr);
QUARTET_API int32_t quartet_free(int32_t backend, void* ptr); /* NULL is a no-op */
/* Copy between any pair of backends. Copies that touch host memory complete before returning;
 * device-to-device copies are ordered on the stream. */
QUARTET_API int32_t quartet_memcpy(int32_t dst_backend, void* dst, int32_t src_backend, const void* src,
                                   int64_t bytes);
QUARTET_API int32_t quartet_memset(int32_t backend, void* ptr, int32_t value, int64_t bytes);
/* Wait for all queued work of the backend; reports asynchronous kernel errors. */
QUARTET_API int32_t quartet_sync(int32_t backend);

/* ---------------------------------------------------------------------------------------------------- */
/* Scalar formats (host arrays, CPU only): the executable tables of §1, for tests and tools               */

QUARTET_API int32_t quartet_encode_e2m1(const float* x, int64_t n, uint8_t* codes);    /* RNE_E2M1, 1 code/byte */
QUARTET_API int32_t quartet_decode_e2m1(const uint8_t* codes, int64_t n, float* x);
QUARTET_API int32_t quartet_encode_e4m3(const float* x, int64_t n, uint8_t* codes);    /* RNE_SAT_E4M3, x >= 0 */
QUARTET_API int32_t quartet_decode_e4m3(const uint8_t* codes, int64_t n, float* x);
QUARTET_API int32_t quartet_decode_e8m0(const uint8_t* codes, int64_t n, float* x);
QUARTET_API int32_t quartet_f32_to_bf16(const float* x, int64_t n, uint16_t* out);     /* RNE */
QUARTET_API int32_t quartet_bf16_to_f32(const uint16_t* x, int64_t n, float* out);
/* SR with caller-given 24-bit uniforms (u24 < 2^24): SR_E2M1 (§5.4) and SR_E4M3 (§5.6). */
QUARTET_API int32_t quartet_sr_e2m1(const float* x, const uint32_t* u24, int64_t n, uint8_t* codes);
QUARTET_API int32_t quartet_sr_e4m3(const float* x, const uint32_t* u24, int64_t n, uint8_t* codes);
/* One MS-EDEN block (§5.6 steps 2-5) with explicit V and g: y16 -> codes (8 bytes), the EDEN factor S,
 * the corrected scale c (E4M3 units), and the stored scale SR_E4M3(c, u24). Test vector TV-6. */
QUARTET_API int32_t quartet_eden_block(const float* y16, float v, float g, uint32_t u24, uint8_t* codes8,
                                       float* s_factor, float* corrected, uint8_t* scale);

/* ---------------------------------------------------------------------------------------------------- */
/* Random numbers (§2)                                                                                   */

/* Philox4x32-10 on one counter: ctr[4], key[2] -> out[4]. */
QUARTET_API int32_t quartet_philox4x32(const uint32_t* ctr, const uint32_t* key, uint32_t* out);
/* u24 uniforms for logical indices first..first+n-1 of (seed, step, stream, tag). */
QUARTET_API int32_t quartet_uniform_u24(uint32_t seed, uint32_t step, uint32_t stream, uint32_t tag,
                                        int64_t first, int64_t n, uint32_t* out);
/* The 128 RHT signs of one backward call of one layer, as 4 words (bit j&31 of word j>>5 set = -1). */
QUARTET_API int32_t quartet_rht_signs(uint32_t seed, uint32_t step, uint32_t layer_id, uint32_t* signs4);

/* ---------------------------------------------------------------------------------------------------- */
/* Transforms and quantizers                                                                             */

/* max|x| over n elements (exact). `amax` lives on the backend. Non-finite input -> QUARTET_ERR_NON_FINITE. */
QUARTET_API int32_t quartet_absmax(int32_t backend, const void* x, int32_t x_dtype, int64_t n, float* amax);

/* RHT-d (§5.5) of every consecutive d-chunk of every row of x[rows, cols]; d in {16, 32, 128}, cols % d == 0.
 * signs: host uint32[4] mask (NULL = all +1). out may alias x when dtypes match. */
QUARTET_API int32_t quartet_rht(int32_t backend, const void* x, int32_t x_dtype, int64_t rows, int64_t cols,
                                int32_t dim, const uint32_t* signs, void* out, int32_t out_dtype);

/*
 * Quantize. x is stored row-major [rows, cols] (F32 or BF16). The logical matrix Q quantizes is
 * x itself (transpose = 0: R = rows, K = cols) or x^T (transpose = 1: R = cols, K = rows); blocks,
 * Hadamard groups and Philox indices follow the logical [R, K] (§2). Steps:
 *   1. optional RHT-rht_dim along K with `rht_signs` (rht_dim 0 = none; 16, 32 or 128),
 *   2. the quantizer `method` of `format`.
 * seed/step key Philox; tensor_tag = (layer_id << 8) | role selects the stream's counter (§2).
 * amax_override (nullable, backend memory): use this abs-max for the tensor scale instead of the
 *   current one (delayed abs-max, §5.11; NVFP4 methods except EDEN_B). amax_out (nullable, backend
 *   memory): receives the current abs-max of the tensor being quantized (after the RHT).
 * Outputs (backend memory): codes [R, K/2]; scales per scale_layout; tensor_scale (NVFP4; may be NULL for
 *   MXFP4); trust_mask (MX_QUEST only, nullable): [R, K/8] bytes, bit k&7 of byte k>>3 = |v_k| < 6.
 * K % 16 (NVFP4) or K % 32 (MXFP4) must be 0; K % rht_dim == 0; RTN_16X16 needs R % 16 == 0.
 */
QUARTET_API int32_t quartet_quantize(int32_t backend, int32_t format, int32_t method,
                                     const void* x, int32_t x_dtype, int64_t rows, int64_t cols,
                                     int32_t transpose, int32_t rht_dim, const uint32_t* rht_signs,
                                     uint32_t seed, uint32_t step, uint32_t tensor_tag,
                                     const float* amax_override, float* amax_out,
                                     int32_t scale_layout, uint8_t* codes, uint8_t* scales,
                                     float* tensor_scale, uint8_t* trust_mask);

/* Decode a quantized [rows, cols] matrix (§3.1; MXFP4: code * 2^(e-127)) to F32 or BF16 (RNE).
 * tensor_scale: NVFP4 decode multiplier in backend memory (NULL = 1). */
QUARTET_API int32_t quartet_dequantize(int32_t backend, int32_t format, const uint8_t* codes,
                                       const uint8_t* scales, const float* tensor_scale, int64_t rows,
                                       int64_t cols, int32_t scale_layout, void* out, int32_t out_dtype);

/*
 * Re-quantize a saved quantized tensor along the other dimension (§5.8): dequantize src [rows, cols]
 * (linear scales) to FP32, transpose to [cols, rows], RHT-rht_dim along the new rows' K = rows, then
 * `method`. Equals quantize(dequantize(src), transpose = 1, ...) bit for bit, without the FP32 round trip
 * through memory on CUDA. Output is the logical [cols, rows] matrix.
 */
QUARTET_API int32_t quartet_requantize(int32_t backend, int32_t src_format, const uint8_t* src_codes,
                                       const uint8_t* src_scales, const float* src_tensor_scale,
                                       int64_t rows, int64_t cols, int32_t format, int32_t method,
                                       int32_t rht_dim, const uint32_t* rht_signs, uint32_t seed,
                                       uint32_t step, uint32_t tensor_tag, int32_t scale_layout,
                                       uint8_t* codes, uint8_t* scales, float* tensor_scale);

/* Swizzled scale layout (§3.5). scale_cols = K/16 (NVFP4) or K/32 (MXFP4). */
QUARTET_API int32_t quartet_scales_bytes(int64_t rows, int64_t scale_cols, int32_t scale_layout,
                                         int64_t* bytes);
QUARTET_API int32_t quartet_swizzle_scales(int32_t backend, const uint8_t* linear, int64_t rows,
                                           int64_t scale_cols, uint8_t* swizzled);
QUARTET_API int32_t quartet_unswizzle_scales(int32_t backend, const uint8_t* swizzled, int64_t rows,
                                             int64_t scale_cols, uint8_t* linear);

/* ---------------------------------------------------------------------------------------------------- */
/* GEMMs                                                                                                 */

/*
 * Block-scaled FP4 GEMM, TN: Y[m, n] = alpha * gA * gB * sum_k deq(A)[m, k] * deq(B)[n, k]  (§3.6)
 * A: codes [m, k/2] + scales, B: codes [n, k/2] + scales, both blocked along k. a_tensor_scale /
 * b_tensor_scale: NVFP4 tensor scales in backend memory (read on the device, no host sync; NULL = 1;
 * must be NULL for MXFP4). The effective multiplier is fl(fl(gA * gB) * alpha).
 * FP32 accumulation. out [m, n] row-major F32 or BF16; accumulate = 1 adds into out (F32 only).
 * k % 16 (NVFP4) / k % 32 (MXFP4) must be 0.
 */
QUARTET_API int32_t quartet_gemm_fp4(int32_t backend, int32_t format,
                                     const uint8_t* a_codes, const uint8_t* a_scales,
                                     const float* a_tensor_scale,
                                     const uint8_t* b_codes, const uint8_t* b_scales,
                                     const float* b_tensor_scale,
                                     int64_t m, int64_t n, int64_t k, int32_t scale_layout, float alpha,
                                     int32_t accumulate, void* out, int32_t out_dtype);

/*
 * Dense GEMM, row-major, BLAS semantics: C[m, n] = alpha * op(A) op(B) + beta * C, where
 * op(A) is [m, k] (A stored [m, k], or [k, m] if trans_a) and op(B) is [k, n] (B stored [k, n], or [n, k]
 * if trans_b). lda/ldb/ldc are row strides in elements. A and B share `ab_dtype` (F32 or BF16); C is
 * `c_dtype` (F32 or BF16). FP32 accumulation. beta must be 0 or 1 when C is BF16.
 */
QUARTET_API int32_t quartet_gemm(int32_t backend, int32_t ab_dtype, int32_t trans_a, int32_t trans_b,
                                 int64_t m, int64_t n, int64_t k, float alpha, const void* a, int64_t lda,
                                 const void* b, int64_t ldb, float beta, void* c, int64_t ldc,
                                 int32_t c_dtype);

/* GEMM path selection on CUDA (run-time dispatch by device arch unless overridden; for tests and
 * benchmarks). path: 0 auto, 1 decode-to-BF16 mma.sync, 2 decode-to-BF16 wgmma (sm_90a), 3 sm_120a
 * block-scaled mma.sync, 4 the sm_120a data path with a software MMA stand-in (any arch), 5 cuBLASLt,
 * 6 built-in dense. A path that cannot serve a call returns QUARTET_ERR_UNSUPPORTED (no silent fallback
 * when a path is forced). quartet_cuda_gemm_last_path reports the path the last GEMM call used. */
QUARTET_API int32_t quartet_cuda_set_gemm_path(int32_t path);
QUARTET_API int32_t quartet_cuda_gemm_last_path(int32_t* path);

/* ---------------------------------------------------------------------------------------------------- */
/* Linear layers (§6): Quartet II and the recipes it is compared with                                   */

typedef enum quartet_recipe {
  QUARTET_RECIPE_BF16 = 0,      /* baseline: three BF16 GEMMs (FP32 accumulation)                         */
  QUARTET_RECIPE_QUARTET2 = 1,  /* §6.1: 4/6 (or RTN) forward, MS-EDEN + RHT-128 backward, re-quantized   */
  QUARTET_RECIPE_NVIDIA = 2,    /* §6.2: RTN 1x16 X, RTN 16x16 W, SR gradients, RHT-16 on wgrad operands  */
  QUARTET_RECIPE_TETRAJET2 = 3, /* §6.3: RTN forward, SR + RHT backward on all four operands, re-quantized */
  QUARTET_RECIPE_QUARTET1 = 4   /* §6.5: MXFP4, QuEST forward (fixed H32, trust masks), range-matched RTN  */
} quartet_recipe;

enum {
  QUARTET_LINEAR_FOUR_SIX = 1,        /* 4/6 forward (quartet2: on by default in the TypeScript layer)     */
  QUARTET_LINEAR_EDEN_A = 2,          /* quartet2: MS-EDEN variant A instead of B                            */
  QUARTET_LINEAR_DELAYED_AMAX = 4,    /* quartet2 with EDEN_A: previous step's abs-max for E and E^T (§5.11) */
  QUARTET_LINEAR_FORWARD_ONLY = 8,    /* quantize the forward only; backward GEMMs in BF16 on dequantized operands */
  QUARTET_LINEAR_BACKWARD_ONLY = 16,  /* quantize the backward only; forward in BF16                         */
  QUARTET_LINEAR_REDRAW_SIGNS = 32,   /* nvidia: redraw RHT-16 signs every backward (default: TE's fixed signs) */
  QUARTET_LINEAR_SR_BACKWARD = 64,    /* quartet1: SR instead of RTN in the range-matched backward            */
  QUARTET_LINEAR_RTN_BACKWARD = 128   /* quartet2 ablation: RTN after the RHT instead of MS-EDEN (biased)      */
};

/*
 * A linear layer Y[T, N] = X[T, K] W[N, K]^T with all its workspace preallocated for up to max_tokens
 * tokens (no allocation per step). rht_dim: 0 = the recipe's default (128 quartet2, 16 nvidia, 32 tetrajet2 and
 * quartet1). layer_id keys the Philox streams (tensor_tag = layer_id << 8 | role) and the RHT signs.
 * Shape rules: K and N multiples of 16 (32 for quartet1); rotated dimensions multiples of rht_dim; quartet2
 * needs K, N and T multiples of 128 (as the official kernels); T a multiple of 16 for nvidia.
 * The handle owns its memory; destroy it with quartet_linear_destroy.
 */
QUARTET_API int32_t quartet_linear_create(int32_t backend, int32_t recipe, int32_t flags, int32_t rht_dim,
                                          int64_t in_features, int64_t out_features, int64_t max_tokens,
                                          uint32_t layer_id, void** handle);
QUARTET_API int32_t quartet_linear_destroy(void* handle);
/* Forward: x [tokens, K] (F32 or BF16), w [N, K] F32 (master weights), y [tokens, N] BF16. Saves what the
 * recipe keeps for the backward (quartet2: the NVFP4 triples of X and W only). */
QUARTET_API int32_t quartet_linear_forward(void* handle, const void* x, int32_t x_dtype, int64_t tokens,
                                           const float* w, void* y, uint32_t seed, uint32_t step);
/* Backward of the last forward: e = dL/dY [tokens, N] BF16 -> dx [tokens, K] BF16 (nullable: skip dgrad) and
 * dw [N, K] F32 (written, or added to when accumulate_dw = 1). w must be the forward's w, unchanged. */
QUARTET_API int32_t quartet_linear_backward(void* handle, const void* e, const float* w, void* dx, float* dw,
                                            int32_t accumulate_dw, uint32_t seed, uint32_t step);
/* Bytes the layer keeps between forward and backward at max_tokens (what the recipe saves). */
QUARTET_API int32_t quartet_linear_saved_bytes(void* handle, int64_t* bytes);
/* The delayed abs-max state (QUARTET_LINEAR_DELAYED_AMAX, §5.11), for checkpoints: values2 (host) = the abs-max
 * of E and E^T that the next backward will use; valid = 0 until a backward has run (the next backward then
 * uses the current abs-max). set = 0 reads the state, set = 1 restores it. */
QUARTET_API int32_t quartet_linear_amax_state(void* handle, float* values2, int32_t* valid, int32_t set);
/* The quantized operands of the last forward/backward, for tests: which = 0 Xq, 1 Wq, 2 E', 3 W', 4 E'', 5 X''.
 * Pointers into the handle's workspace (backend memory), valid until the next call on the handle. */
QUARTET_API int32_t quartet_linear_operand(void* handle, int32_t which, const uint8_t** codes,
                                           const uint8_t** scales, const float** tensor_scale, int64_t* rows,
                                           int64_t* cols, int32_t* format);

/* ---------------------------------------------------------------------------------------------------- */
/* Optimizer (§7): AdamW on FP32 master weights and states, gradient clipping by the global norm          */

/*
 * Sums of squares of `count` (>= 1) F32 tensors, for the global gradient norm. tensors[i] (backend memory)
 * holds sizes[i] > 0 floats; `tensors`, `sizes` and `sumsq` are host arrays. sumsq[i] is the pairwise tree
 * sum (PSUM, §0) in binary64 of the exact binary64 squares x_j * x_j, over the values zero-padded to a power
 * of two: one fixed order, so CPU and CUDA return the same bits for any thread count. A NaN or Inf element
 * propagates into sumsq[i] (no error): the caller can name the tensor whose sum is not finite. Synchronizes.
 */
QUARTET_API int32_t quartet_sum_squares(int32_t backend, int32_t count, const float* const* tensors,
                                        const int64_t* sizes, double* sumsq);

/*
 * One AdamW step (decoupled weight decay, as torch.optim.AdamW) on n F32 elements, in place on the master
 * weights w and the moments m, v (backend memory; w, m, v and grad must not overlap). With c1 = 1 - beta1^step
 * and c2 = 1 - beta2^step (binary64, step >= 1, the powers by square-and-multiply, lowest bit first), the
 * float32 scalars decay = fl(1 - lr*weight_decay), step_size = fl(lr / c1), root_c2 = fl(sqrt(c2)) (each
 * computed in binary64, rounded once), b1 = fl(1 - beta1), b2 = fl(1 - beta2) are derived once on the host;
 * then per element, in float32 (RNE, no FMA):
 *     g = grad * grad_scale;  m = beta1*m + b1*g;  v = beta2*v + b2*(g*g);
 *     w = w * decay;          w = w - step_size * (m / (sqrt(v) / root_c2 + eps))
 * grad_scale folds the clipping factor and 1/(micro-batches). Bit-identical on CPU and CUDA.
 * Ranges: lr, weight_decay >= 0 with lr*weight_decay < 1; beta1, beta2 in [0, 1); eps > 0; grad_scale >= 0;
 * all finite.
 */
QUARTET_API int32_t quartet_adamw_step(int32_t backend, float* w, const float* grad, float* m, float* v,
                                       int64_t n, int64_t step, float lr, float beta1, float beta2, float eps,
                                       float weight_decay, float grad_scale);

/* ---------------------------------------------------------------------------------------------------- */
/* Model ops (§7): the parts of the Llama-style decoder that stay in BF16/FP32                          */
/*
 * Tokens T = batch * seq; activations are row-major [T, width] in F32 or BF16 (dtype arguments); parameters
 * and their gradients are F32. All math is FP32; BF16 outputs round to nearest even. Token ids and targets
 * are int32 arrays in backend memory. Every buffer, saved tensor and scratch is the caller's: no call
 * allocates. Gradients of parameters are accumulated (+=); activation gradients are written unless an
 * `accumulate` argument says otherwise. CPU and CUDA give identical bytes for every op of this section
 * except attention (tensor-core GEMMs on the GPU): they share the arithmetic and the reduction orders.
 */

/* out[t, :] = table[tokens[t], :]. table F32 [vocab, dim]; out [n, dim] F32 or BF16. An id outside
 * [0, vocab) is QUARTET_ERR_INVALID_ARGUMENT (on CUDA reported by the next synchronizing call). */
QUARTET_API int32_t quartet_embedding_forward(int32_t backend, const int32_t* tokens, int64_t n, const float* table,
                                              int64_t vocab, int64_t dim, void* out, int32_t out_dtype);
/* dtable[tokens[t], :] += dout[t, :], each row summed in increasing t (deterministic, no atomics). */
QUARTET_API int32_t quartet_embedding_backward(int32_t backend, const int32_t* tokens, int64_t n, const void* dout,
                                               int32_t dout_dtype, int64_t vocab, int64_t dim, float* dtable);

/* RMSNorm: rstd = 1 / sqrt(sum(x^2) / dim + eps), y = (x * rstd) * weight. rstd F32 [rows] (nullable) is
 * saved for the backward. The sum of squares uses 32 strided partials and a butterfly (model_numerics.h). */
QUARTET_API int32_t quartet_rmsnorm_forward(int32_t backend, const void* x, int32_t x_dtype, int64_t rows,
                                            int64_t dim, const float* weight, float eps, void* y, int32_t y_dtype,
                                            float* rstd);
/* Number of F32 elements of the backward's scratch: ceil(rows / 128) * dim (partial weight gradients). */
QUARTET_API int32_t quartet_rmsnorm_scratch_elems(int64_t rows, int64_t dim, int64_t* elems);
/* Backward: dx = rstd * (g - xhat * sum(g * xhat) / dim) with g = dy * weight, xhat = x * rstd; written to dx,
 * or added to it when accumulate_dx = 1 (dx must then be F32). dweight[:] += sum over rows of dy * xhat,
 * in 128-row partials (scratch) summed in order. */
QUARTET_API int32_t quartet_rmsnorm_backward(int32_t backend, const void* x, int32_t x_dtype, int64_t rows,
                                             int64_t dim, const float* weight, const float* rstd, const void* dy,
                                             int32_t dy_dtype, void* dx, int32_t dx_dtype, int32_t accumulate_dx,
                                             float* dweight, float* scratch);

/* RoPE tables (host arrays, CPU only): cos/sin[p, j] = cos/sin(p * theta^(-2j / head_dim)) for p < seq_len,
 * j < head_dim / 2, computed in double and rounded once. Copy them to the backend for quartet_rope_*. */
QUARTET_API int32_t quartet_rope_table(int64_t seq_len, int64_t head_dim, double theta, float* cos_table,
                                       float* sin_table);
/* RoPE in place, rotate-half convention: in every row t of x (row stride ld elements), position
 * p = t % seq_len, every head h < heads at columns h * head_dim, pairs (a, b) = (j, j + head_dim / 2):
 * a' = a cos - b sin, b' = b cos + a sin. For a fused QKV [T, 3d] buffer pass ld = 3d and heads = 2 *
 * n_heads (q and k). The backward applies the transposed rotation to the gradient. */
QUARTET_API int32_t quartet_rope_forward(int32_t backend, void* x, int32_t dtype, int64_t rows, int64_t ld,
                                         int64_t heads, int64_t head_dim, int64_t seq_len, const float* cos_table,
                                         const float* sin_table);
QUARTET_API int32_t quartet_rope_backward(int32_t backend, void* dx, int32_t dtype, int64_t rows, int64_t ld,
                                          int64_t heads, int64_t head_dim, int64_t seq_len, const float* cos_table,
                                          const float* sin_table);

/*
 * Causal multi-head attention, softmax scale 1/sqrt(head_dim). qkv [batch * seq, 3 * heads * head_dim]:
 * q | k | v, head h at columns h * head_dim of each third (RoPE applied). out [batch * seq, heads *
 * head_dim]. lse F32 [batch, heads, seq]: the natural log-sum-exp of each query's scaled scores, saved for
 * the backward. CPU: exact FP32 softmax (F32 or BF16 data). CUDA: BF16 only, head_dim 64 or 128, a
 * flash-style fused kernel (mma.sync BF16, online softmax; P rounded to BF16 before P V).
 */
QUARTET_API int32_t quartet_attention_forward(int32_t backend, const void* qkv, int32_t dtype, int64_t batch,
                                              int64_t seq, int64_t heads, int64_t head_dim, void* out, float* lse);
/* Backward: dout [batch * seq, heads * head_dim] -> dqkv (written, same layout as qkv); out and lse are the
 * forward's. delta: F32 scratch [batch, heads, seq]. Deterministic (no atomics) on both backends. */
QUARTET_API int32_t quartet_attention_backward(int32_t backend, const void* qkv, const void* out, const void* dout,
                                               const float* lse, int32_t dtype, int64_t batch, int64_t seq,
                                               int64_t heads, int64_t head_dim, void* dqkv, float* delta);

/* SwiGLU: h[t, j] = silu(gu[t, j]) * gu[t, hidden + j] (gate | up halves of the fused up projection). */
QUARTET_API int32_t quartet_swiglu_forward(int32_t backend, const void* gu, int32_t gu_dtype, int64_t rows,
                                           int64_t hidden, void* h, int32_t h_dtype);
/* Backward: dgu [rows, 2 * hidden] (written) from dh [rows, hidden] and the forward's gu. */
QUARTET_API int32_t quartet_swiglu_backward(int32_t backend, const void* gu, int32_t gu_dtype, const void* dh,
                                            int32_t dh_dtype, int64_t rows, int64_t hidden, void* dgu,
                                            int32_t dgu_dtype);

/* Element-wise dtype conversion out[i] = x[i] (F32 <-> BF16, RNE; same dtypes = copy). x and out must not
 * alias unless the dtypes match. */
QUARTET_API int32_t quartet_convert(int32_t backend, const void* x, int32_t x_dtype, void* out, int32_t out_dtype,
                                    int64_t n);

/* Residual add: y[i] = y[i] + x[i] over n elements (FP32 sum, stored in y's dtype). */
QUARTET_API int32_t quartet_add(int32_t backend, void* y, int32_t y_dtype, const void* x, int32_t x_dtype, int64_t n);

/*
 * Fused softmax cross-entropy over logits [rows, vocab] (F32 or BF16, e.g. one chunk of the LM head's
 * output): per row m = max z, s = sum exp(z - m) (256 strided partials + butterfly), losses[r] = (ln s + m)
 * - z[target]. With compute_grad = 1 the logits are replaced in place by grad_scale * (softmax(z) -
 * onehot(target)). targets int32 [rows] (backend memory): < 0 = ignored (loss 0, gradient 0); >= vocab is
 * QUARTET_ERR_INVALID_ARGUMENT. losses F32 [rows] (backend memory).
 */
QUARTET_API int32_t quartet_cross_entropy(int32_t backend, void* logits, int32_t dtype, int64_t rows, int64_t vocab,
                                          const int32_t* targets, float grad_scale, float* losses,
                                          int32_t compute_grad);

#ifdef __cplusplus
}
#endif

#endif /* QUARTET_H */
