// api.cpp — the C boundary: every argument is checked here, once, for every backend, and then the
// operation is handed to csrc/cpu or csrc/cuda through the structs of ops.h.
#include <string.h>

#include "core/numerics.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/status.h"
#include "core/checks.h"

using namespace quartet;

namespace {






int32_t check_format(const char* fn, int32_t f, const char* name) {
  return (f == QUARTET_FORMAT_NVFP4 || f == QUARTET_FORMAT_MXFP4)
             ? QUARTET_OK
             : fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "%s must be 0 (nvfp4) or 1 (mxfp4), got %d", name, f);
}

int32_t check_layout(const char* fn, int32_t l) {
  return (l == QUARTET_SCALES_LINEAR || l == QUARTET_SCALES_SWIZZLED)
             ? QUARTET_OK
             : fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "scale_layout must be 0 (linear) or 1 (swizzled), got %d", l);
}

bool method_is_nvfp4(int32_t m) { return m >= QUARTET_METHOD_RTN && m <= QUARTET_METHOD_RTN_16X16; }
bool method_is_mxfp4(int32_t m) { return m >= QUARTET_METHOD_MX_OCP && m <= QUARTET_METHOD_MX_SR_RM; }

int32_t check_method(const char* fn, int32_t format, int32_t method) {
  if (format == QUARTET_FORMAT_NVFP4 && !method_is_nvfp4(method))
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "method %d is not an NVFP4 method (expected 0..6)", method);
  if (format == QUARTET_FORMAT_MXFP4 && !method_is_mxfp4(method))
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "method %d is not an MXFP4 method (expected 7..10)", method);
  return QUARTET_OK;
}

int32_t make_rht(const char* fn, int32_t dim, const uint32_t* signs, int64_t K, RhtSpec* out) {
  if (dim != 0 && dim != 16 && dim != 32 && dim != 128)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "rht_dim must be 0, 16, 32 or 128, got %d", dim);
  if (dim != 0) QUARTET_TRY(check_multiple(fn, K, dim, "the rotated dimension (K)"));
  out->dim = dim;
  out->has_signs = dim != 0 && signs != nullptr;
  for (int i = 0; i < 4; ++i) out->signs[i] = out->has_signs ? signs[i] : 0u;
  return QUARTET_OK;
}

}  // namespace

#define DISPATCH(backend, op, args) ((backend) == QUARTET_BACKEND_CPU ? cpu::op(args) : cuda::op(args))

extern "C" {

QUARTET_API int32_t quartet_version(int32_t* major, int32_t* minor, int32_t* patch) {
  const char* fn = "quartet_version";
  QUARTET_TRY(check_ptr(fn, major, "major"));
  QUARTET_TRY(check_ptr(fn, minor, "minor"));
  QUARTET_TRY(check_ptr(fn, patch, "patch"));
  *major = QUARTET_VERSION_MAJOR;
  *minor = QUARTET_VERSION_MINOR;
  *patch = QUARTET_VERSION_PATCH;
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_backend_available(int32_t backend, int32_t* available) {
  const char* fn = "quartet_backend_available";
  QUARTET_TRY(check_ptr(fn, available, "available"));
  if (backend == QUARTET_BACKEND_CPU) { *available = 1; return QUARTET_OK; }
  if (backend != QUARTET_BACKEND_CUDA)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "backend must be 0 (cpu) or 1 (cuda), got %d", backend);
  int32_t n = 0;
  if (cuda::compiled()) QUARTET_TRY(cuda::device_count(&n));
  *available = n > 0 ? 1 : 0;
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_cpu_set_threads(int32_t threads) {
  if (threads < 0 || threads > 1024)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, "quartet_cpu_set_threads", "threads must be in [0, 1024], got %d", threads);
  set_cpu_threads(threads);
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_cpu_get_threads(int32_t* threads) {
  QUARTET_TRY(check_ptr("quartet_cpu_get_threads", threads, "threads"));
  *threads = cpu_threads();
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_cuda_device_count(int32_t* count) {
  QUARTET_TRY(check_ptr("quartet_cuda_device_count", count, "count"));
  *count = 0;
  return cuda::compiled() ? cuda::device_count(count) : QUARTET_OK;
}

QUARTET_API int32_t quartet_cuda_set_device(int32_t device) {
  const char* fn = "quartet_cuda_set_device";
  QUARTET_TRY(check_backend(fn, QUARTET_BACKEND_CUDA));
  int32_t n = 0;
  QUARTET_TRY(cuda::device_count(&n));
  if (device < 0 || device >= n)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "device must be in [0, %d), got %d", n, device);
  return cuda::set_device(device);
}

QUARTET_API int32_t quartet_cuda_get_device(int32_t* device) {
  const char* fn = "quartet_cuda_get_device";
  QUARTET_TRY(check_ptr(fn, device, "device"));
  QUARTET_TRY(check_backend(fn, QUARTET_BACKEND_CUDA));
  return cuda::get_device(device);
}

QUARTET_API int32_t quartet_cuda_device_info(int32_t device, char* name, int64_t name_capacity, int32_t* cc_major,
                                            int32_t* cc_minor, int64_t* total_bytes, int32_t* sm_count) {
  const char* fn = "quartet_cuda_device_info";
  QUARTET_TRY(check_backend(fn, QUARTET_BACKEND_CUDA));
  int32_t n = 0;
  QUARTET_TRY(cuda::device_count(&n));
  if (device < 0 || device >= n)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "device must be in [0, %d), got %d", n, device);
  if (name && name_capacity <= 0) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "name_capacity must be > 0");
  return cuda::device_info(device, name, name_capacity, cc_major, cc_minor, total_bytes, sm_count);
}

QUARTET_API int32_t quartet_cuda_mem_info(int64_t* free_bytes, int64_t* total_bytes) {
  const char* fn = "quartet_cuda_mem_info";
  QUARTET_TRY(check_ptr(fn, free_bytes, "free_bytes"));
  QUARTET_TRY(check_ptr(fn, total_bytes, "total_bytes"));
  QUARTET_TRY(check_backend(fn, QUARTET_BACKEND_CUDA));
  return cuda::mem_info(free_bytes, total_bytes);
}

QUARTET_API int32_t quartet_cuda_stream(void** stream) {
  const char* fn = "quartet_cuda_stream";
  QUARTET_TRY(check_ptr(fn, stream, "stream"));
  QUARTET_TRY(check_backend(fn, QUARTET_BACKEND_CUDA));
  return cuda::stream(stream);
}

QUARTET_API int32_t quartet_cuda_set_gemm_path(int32_t path) {
  const char* fn = "quartet_cuda_set_gemm_path";
  if (path < 0 || path > 6) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "path must be in [0, 6], got %d", path);
  QUARTET_TRY(check_backend(fn, QUARTET_BACKEND_CUDA));
  return cuda::set_gemm_path(path);
}

QUARTET_API int32_t quartet_cuda_gemm_last_path(int32_t* path) {
  const char* fn = "quartet_cuda_gemm_last_path";
  QUARTET_TRY(check_ptr(fn, path, "path"));
  QUARTET_TRY(check_backend(fn, QUARTET_BACKEND_CUDA));
  return cuda::gemm_last_path(path);
}

// ---- memory ---------------------------------------------------------------------------------------

QUARTET_API int32_t quartet_malloc(int32_t backend, int64_t bytes, void** ptr) {
  const char* fn = "quartet_malloc";
  QUARTET_TRY(check_ptr(fn, ptr, "ptr"));
  *ptr = nullptr;
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_positive(fn, bytes, "bytes"));
  if (backend == QUARTET_BACKEND_CUDA) return cuda::malloc_bytes(bytes, ptr);
  size_t rounded = ((size_t)bytes + 255) & ~(size_t)255;
  void* p = aligned_alloc(256, rounded);
  if (!p) return fail(QUARTET_ERR_OUT_OF_MEMORY, fn, "cannot allocate %lld bytes of host memory", (long long)bytes);
  *ptr = p;
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_free(int32_t backend, void* ptr) {
  const char* fn = "quartet_free";
  if (!ptr) return QUARTET_OK;
  QUARTET_TRY(check_backend(fn, backend));
  if (backend == QUARTET_BACKEND_CUDA) return cuda::free_ptr(ptr);
  free(ptr);
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_memcpy(int32_t dst_backend, void* dst, int32_t src_backend, const void* src,
                                   int64_t bytes) {
  const char* fn = "quartet_memcpy";
  QUARTET_TRY(check_backend(fn, dst_backend));
  QUARTET_TRY(check_backend(fn, src_backend));
  if (bytes < 0) return fail(QUARTET_ERR_SHAPE, fn, "bytes must be >= 0, got %lld", (long long)bytes);
  if (bytes == 0) return QUARTET_OK;
  QUARTET_TRY(check_ptr(fn, dst, "dst"));
  QUARTET_TRY(check_ptr(fn, src, "src"));
  if (dst_backend == QUARTET_BACKEND_CPU && src_backend == QUARTET_BACKEND_CPU) {
    memmove(dst, src, (size_t)bytes);
    return QUARTET_OK;
  }
  int kind = src_backend == QUARTET_BACKEND_CPU ? 0 : dst_backend == QUARTET_BACKEND_CPU ? 1 : 2;
  return cuda::copy(dst, src, bytes, kind);
}

QUARTET_API int32_t quartet_memset(int32_t backend, void* ptr, int32_t value, int64_t bytes) {
  const char* fn = "quartet_memset";
  QUARTET_TRY(check_backend(fn, backend));
  if (bytes < 0) return fail(QUARTET_ERR_SHAPE, fn, "bytes must be >= 0, got %lld", (long long)bytes);
  if (bytes == 0) return QUARTET_OK;
  QUARTET_TRY(check_ptr(fn, ptr, "ptr"));
  if (value < 0 || value > 255) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "value must be in [0, 255], got %d", value);
  if (backend == QUARTET_BACKEND_CUDA) return cuda::memset_bytes(ptr, value, bytes);
  memset(ptr, value, (size_t)bytes);
  return QUARTET_OK;
}

QUARTET_API int32_t quartet_sync(int32_t backend) {
  QUARTET_TRY(check_backend("quartet_sync", backend));
  return backend == QUARTET_BACKEND_CUDA ? cuda::sync() : QUARTET_OK;
}

// ---- transforms and quantizers -----------------------------------------------------------------------

QUARTET_API int32_t quartet_absmax(int32_t backend, const void* x, int32_t x_dtype, int64_t n, float* amax) {
  const char* fn = "quartet_absmax";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, x, "x"));
  QUARTET_TRY(check_ptr(fn, amax, "amax"));
  QUARTET_TRY(check_dtype(fn, x_dtype, "x_dtype"));
  QUARTET_TRY(check_positive(fn, n, "n"));
  AbsmaxArgs a{x, x_dtype, n, amax};
  return DISPATCH(backend, absmax, a);
}

QUARTET_API int32_t quartet_rht(int32_t backend, const void* x, int32_t x_dtype, int64_t rows, int64_t cols,
                                int32_t dim, const uint32_t* signs, void* out, int32_t out_dtype) {
  const char* fn = "quartet_rht";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, x, "x"));
  QUARTET_TRY(check_ptr(fn, out, "out"));
  QUARTET_TRY(check_dtype(fn, x_dtype, "x_dtype"));
  QUARTET_TRY(check_dtype(fn, out_dtype, "out_dtype"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, cols, "cols"));
  if (dim == 0) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "dim must be 16, 32 or 128, got 0");
  RhtArgs a{x, x_dtype, rows, cols, {}, out, out_dtype};
  QUARTET_TRY(make_rht(fn, dim, signs, cols, &a.rht));
  if (x == out && x_dtype != out_dtype)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "out may alias x only when out_dtype == x_dtype");
  return DISPATCH(backend, rht, a);
}

QUARTET_API int32_t quartet_quantize(int32_t backend, int32_t format, int32_t method, const void* x,
                                     int32_t x_dtype, int64_t rows, int64_t cols, int32_t transpose,
                                     int32_t rht_dim, const uint32_t* rht_signs, uint32_t seed, uint32_t step,
                                     uint32_t tensor_tag, const float* amax_override, float* amax_out,
                                     int32_t scale_layout, uint8_t* codes, uint8_t* scales, float* tensor_scale,
                                     uint8_t* trust_mask) {
  const char* fn = "quartet_quantize";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_format(fn, format, "format"));
  QUARTET_TRY(check_method(fn, format, method));
  QUARTET_TRY(check_ptr(fn, x, "x"));
  QUARTET_TRY(check_ptr(fn, codes, "codes"));
  QUARTET_TRY(check_ptr(fn, scales, "scales"));
  if (format == QUARTET_FORMAT_NVFP4) QUARTET_TRY(check_ptr(fn, tensor_scale, "tensor_scale"));
  QUARTET_TRY(check_dtype(fn, x_dtype, "x_dtype"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, cols, "cols"));
  QUARTET_TRY(check_layout(fn, scale_layout));
  if (transpose != 0 && transpose != 1)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "transpose must be 0 or 1, got %d", transpose);
  QuantizeArgs a{};
  a.format = format;
  a.method = method;
  a.x = x;
  a.x_dtype = x_dtype;
  a.rows = rows;
  a.cols = cols;
  a.transpose = transpose != 0;
  a.R = transpose ? cols : rows;
  a.K = transpose ? rows : cols;
  QUARTET_TRY(check_multiple(fn, a.K, block_size(format), transpose ? "rows (K of the transposed matrix)" : "cols (K)"));
  if (method == QUARTET_METHOD_RTN_16X16)
    QUARTET_TRY(check_multiple(fn, a.R, 16, "R (rows of the quantized matrix) for 16x16 blocks"));
  QUARTET_TRY(make_rht(fn, rht_dim, rht_signs, a.K, &a.rht));
  if (amax_override && (method == QUARTET_METHOD_EDEN_B || format == QUARTET_FORMAT_MXFP4))
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn,
                "amax_override is only meaningful for NVFP4 methods with a tensor abs-max (not EDEN_B or MXFP4)");
  if (trust_mask && method != QUARTET_METHOD_MX_QUEST)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "trust_mask is only produced by MX_QUEST; pass NULL");
  a.seed = seed;
  a.step = step;
  a.tag = tensor_tag;
  a.amax_override = amax_override;
  a.amax_out = amax_out;
  a.scale_layout = scale_layout;
  a.codes = codes;
  a.scales = scales;
  a.tensor_scale = tensor_scale;
  a.trust_mask = trust_mask;
  return DISPATCH(backend, quantize, a);
}

QUARTET_API int32_t quartet_requantize(int32_t backend, int32_t src_format, const uint8_t* src_codes,
                                       const uint8_t* src_scales, const float* src_tensor_scale, int64_t rows,
                                       int64_t cols, int32_t format, int32_t method, int32_t rht_dim,
                                       const uint32_t* rht_signs, uint32_t seed, uint32_t step,
                                       uint32_t tensor_tag, int32_t scale_layout, uint8_t* codes,
                                       uint8_t* scales, float* tensor_scale) {
  const char* fn = "quartet_requantize";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_format(fn, src_format, "src_format"));
  QUARTET_TRY(check_format(fn, format, "format"));
  QUARTET_TRY(check_method(fn, format, method));
  if (method == QUARTET_METHOD_MX_QUEST)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "MX_QUEST is a forward quantizer; requantize with MX_RTN_RM");
  QUARTET_TRY(check_ptr(fn, src_codes, "src_codes"));
  QUARTET_TRY(check_ptr(fn, src_scales, "src_scales"));
  QUARTET_TRY(check_ptr(fn, codes, "codes"));
  QUARTET_TRY(check_ptr(fn, scales, "scales"));
  if (format == QUARTET_FORMAT_NVFP4) QUARTET_TRY(check_ptr(fn, tensor_scale, "tensor_scale"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, cols, "cols"));
  QUARTET_TRY(check_layout(fn, scale_layout));
  QUARTET_TRY(check_multiple(fn, cols, block_size(src_format), "cols (K of the source)"));
  QUARTET_TRY(check_multiple(fn, rows, block_size(format), "rows (K of the re-quantized transpose)"));
  if (method == QUARTET_METHOD_RTN_16X16) QUARTET_TRY(check_multiple(fn, cols, 16, "cols for 16x16 blocks"));
  RequantizeArgs a{};
  a.src_format = src_format;
  a.src_codes = src_codes;
  a.src_scales = src_scales;
  a.src_tensor_scale = src_format == QUARTET_FORMAT_NVFP4 ? src_tensor_scale : nullptr;
  a.rows = rows;
  a.cols = cols;
  a.format = format;
  a.method = method;
  QUARTET_TRY(make_rht(fn, rht_dim, rht_signs, rows, &a.rht));
  a.seed = seed;
  a.step = step;
  a.tag = tensor_tag;
  a.scale_layout = scale_layout;
  a.codes = codes;
  a.scales = scales;
  a.tensor_scale = tensor_scale;
  return DISPATCH(backend, requantize, a);
}

QUARTET_API int32_t quartet_dequantize(int32_t backend, int32_t format, const uint8_t* codes, const uint8_t* scales,
                                       const float* tensor_scale, int64_t rows, int64_t cols, int32_t scale_layout,
                                       void* out, int32_t out_dtype) {
  const char* fn = "quartet_dequantize";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_format(fn, format, "format"));
  QUARTET_TRY(check_ptr(fn, codes, "codes"));
  QUARTET_TRY(check_ptr(fn, scales, "scales"));
  QUARTET_TRY(check_ptr(fn, out, "out"));
  QUARTET_TRY(check_dtype(fn, out_dtype, "out_dtype"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, cols, "cols"));
  QUARTET_TRY(check_layout(fn, scale_layout));
  QUARTET_TRY(check_multiple(fn, cols, block_size(format), "cols (K)"));
  DequantizeArgs a{format, codes, scales, format == QUARTET_FORMAT_NVFP4 ? tensor_scale : nullptr, rows, cols,
                   scale_layout, out, out_dtype};
  return DISPATCH(backend, dequantize, a);
}

QUARTET_API int32_t quartet_scales_bytes(int64_t rows, int64_t scale_cols, int32_t scale_layout, int64_t* bytes) {
  const char* fn = "quartet_scales_bytes";
  QUARTET_TRY(check_ptr(fn, bytes, "bytes"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, scale_cols, "scale_cols"));
  QUARTET_TRY(check_layout(fn, scale_layout));
  *bytes = scale_layout == QUARTET_SCALES_LINEAR ? rows * scale_cols : swizzled_bytes(rows, scale_cols);
  return QUARTET_OK;
}

static int32_t swizzle_common(const char* fn, int32_t backend, const uint8_t* src, int64_t rows, int64_t scale_cols,
                              uint8_t* dst, bool to_swizzled) {
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_ptr(fn, src, to_swizzled ? "linear" : "swizzled"));
  QUARTET_TRY(check_ptr(fn, dst, to_swizzled ? "swizzled" : "linear"));
  QUARTET_TRY(check_positive(fn, rows, "rows"));
  QUARTET_TRY(check_positive(fn, scale_cols, "scale_cols"));
  if ((const void*)src == (void*)dst) return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "source and destination must not alias");
  SwizzleArgs a{src, dst, rows, scale_cols, to_swizzled};
  return DISPATCH(backend, swizzle, a);
}

QUARTET_API int32_t quartet_swizzle_scales(int32_t backend, const uint8_t* linear, int64_t rows, int64_t scale_cols,
                                           uint8_t* swizzled) {
  return swizzle_common("quartet_swizzle_scales", backend, linear, rows, scale_cols, swizzled, true);
}

QUARTET_API int32_t quartet_unswizzle_scales(int32_t backend, const uint8_t* swizzled, int64_t rows,
                                             int64_t scale_cols, uint8_t* linear) {
  return swizzle_common("quartet_unswizzle_scales", backend, swizzled, rows, scale_cols, linear, false);
}

// ---- GEMMs ----------------------------------------------------------------------------------------

QUARTET_API int32_t quartet_gemm_fp4(int32_t backend, int32_t format, const uint8_t* a_codes, const uint8_t* a_scales,
                                     const float* a_tensor_scale, const uint8_t* b_codes, const uint8_t* b_scales,
                                     const float* b_tensor_scale, int64_t m, int64_t n, int64_t k,
                                     int32_t scale_layout, float alpha, int32_t accumulate, void* out,
                                     int32_t out_dtype) {
  const char* fn = "quartet_gemm_fp4";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_format(fn, format, "format"));
  QUARTET_TRY(check_ptr(fn, a_codes, "a_codes"));
  QUARTET_TRY(check_ptr(fn, a_scales, "a_scales"));
  QUARTET_TRY(check_ptr(fn, b_codes, "b_codes"));
  QUARTET_TRY(check_ptr(fn, b_scales, "b_scales"));
  QUARTET_TRY(check_ptr(fn, out, "out"));
  QUARTET_TRY(check_dtype(fn, out_dtype, "out_dtype"));
  QUARTET_TRY(check_positive(fn, m, "m"));
  QUARTET_TRY(check_positive(fn, n, "n"));
  QUARTET_TRY(check_positive(fn, k, "k"));
  QUARTET_TRY(check_layout(fn, scale_layout));
  QUARTET_TRY(check_multiple(fn, k, block_size(format), "k"));
  if (format == QUARTET_FORMAT_MXFP4 && (a_tensor_scale || b_tensor_scale))
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "MXFP4 has no tensor scales: pass NULL (use alpha)");
  if (accumulate != 0 && accumulate != 1)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "accumulate must be 0 or 1, got %d", accumulate);
  if (accumulate && out_dtype != QUARTET_DTYPE_F32)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "accumulate = 1 needs an f32 output");
  if (!is_finite(alpha)) return fail(QUARTET_ERR_NON_FINITE, fn, "alpha must be finite");
  Fp4GemmArgs a{format, a_codes, a_scales, a_tensor_scale, b_codes, b_scales, b_tensor_scale, m, n, k,
                scale_layout, alpha, accumulate != 0, out, out_dtype};
  return DISPATCH(backend, gemm_fp4, a);
}

QUARTET_API int32_t quartet_gemm(int32_t backend, int32_t ab_dtype, int32_t trans_a, int32_t trans_b, int64_t m,
                                 int64_t n, int64_t k, float alpha, const void* a, int64_t lda, const void* b,
                                 int64_t ldb, float beta, void* c, int64_t ldc, int32_t c_dtype) {
  const char* fn = "quartet_gemm";
  QUARTET_TRY(check_backend(fn, backend));
  QUARTET_TRY(check_dtype(fn, ab_dtype, "ab_dtype"));
  QUARTET_TRY(check_dtype(fn, c_dtype, "c_dtype"));
  QUARTET_TRY(check_ptr(fn, a, "a"));
  QUARTET_TRY(check_ptr(fn, b, "b"));
  QUARTET_TRY(check_ptr(fn, c, "c"));
  QUARTET_TRY(check_positive(fn, m, "m"));
  QUARTET_TRY(check_positive(fn, n, "n"));
  QUARTET_TRY(check_positive(fn, k, "k"));
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1))
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "trans_a and trans_b must be 0 or 1");
  int64_t need_lda = trans_a ? m : k, need_ldb = trans_b ? k : n;
  if (lda < need_lda) return fail(QUARTET_ERR_SHAPE, fn, "lda must be >= %lld, got %lld", (long long)need_lda, (long long)lda);
  if (ldb < need_ldb) return fail(QUARTET_ERR_SHAPE, fn, "ldb must be >= %lld, got %lld", (long long)need_ldb, (long long)ldb);
  if (ldc < n) return fail(QUARTET_ERR_SHAPE, fn, "ldc must be >= n = %lld, got %lld", (long long)n, (long long)ldc);
  if (!is_finite(alpha) || !is_finite(beta)) return fail(QUARTET_ERR_NON_FINITE, fn, "alpha and beta must be finite");
  if (c_dtype == QUARTET_DTYPE_BF16 && beta != 0.0f && beta != 1.0f)
    return fail(QUARTET_ERR_INVALID_ARGUMENT, fn, "beta must be 0 or 1 with a bf16 C, got %g", (double)beta);
  GemmArgs g{ab_dtype, trans_a != 0, trans_b != 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, c_dtype};
  return DISPATCH(backend, gemm, g);
}

}  // extern "C"
