// gemm_cublaslt.cu — GEMMs through cuBLASLt, found with dlopen at run time (cublaslt_loader.h):
//  - gemm_fp4_cublaslt: the block-scaled FP4 GEMM of numerics.md §3.6 (CUDA_R_4F_E2M1 operands, VEC16_UE4M3
//    scales for NVFP4 / VEC32_UE8M0 for MXFP4 in the 128x4 layout of §3.5, which is cuBLASLt's own), on
//    compute capability 10.0+ only (the Blackwell block-scaled tensor cores);
//  - gemm_cublaslt: dense F32/BF16 GEMMs with FP32 compute (BLAS semantics of quartet_gemm).
// cuBLASLt is column-major; a row-major [r, c] matrix with row stride ld is the column-major [c, r] matrix
// with leading dimension ld, so row-major C = op(A) op(B) is computed as column-major C^T = op(B)^T op(A)^T:
// cuBLASLt's "A" is our B and its "B" is our A. Every call either runs or returns a status with a message:
// an absent library, an old version, a wrong arch or a refused shape is QUARTET_ERR_UNSUPPORTED (the
// dispatcher then falls back), never a crash.
#include <dlfcn.h>
#include <stdio.h>

#include <array>
#include <map>
#include <mutex>

#include "cuda/cublaslt_loader.h"
#include "cuda/cuda_common.cuh"
#include "cuda/gemm_paths.h"

namespace quartet {
namespace cuda {

// ---- the loader ------------------------------------------------------------------------------------

namespace lt {
namespace {
Api g_api;
bool g_loaded = false;
char g_detail[512] = "not probed yet";
std::once_flag g_once;

template <class F>
bool bind(void* lib, const char* name, F& fn) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn) snprintf(g_detail, sizeof g_detail, "%s lacks the symbol %s", g_api.soname, name);
  return fn != nullptr;
}

void load_once() {
  static const char* const kNames[] = {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"};
  void* lib = nullptr;
  for (const char* name : kNames) {
    lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib) { g_api.soname = name; break; }
  }
  if (!lib) {
    snprintf(g_detail, sizeof g_detail,
             "libcublasLt.so.13/.12/.so not found by dlopen (add its directory to LD_LIBRARY_PATH)");
    return;
  }
  size_t (*get_version)() = nullptr;
  bool ok = bind(lib, "cublasLtGetVersion", get_version) && bind(lib, "cublasLtCreate", g_api.create) &&
            bind(lib, "cublasLtDestroy", g_api.destroy) &&
            bind(lib, "cublasLtMatmulDescCreate", g_api.desc_create) &&
            bind(lib, "cublasLtMatmulDescDestroy", g_api.desc_destroy) &&
            bind(lib, "cublasLtMatmulDescSetAttribute", g_api.desc_set) &&
            bind(lib, "cublasLtMatrixLayoutCreate", g_api.layout_create) &&
            bind(lib, "cublasLtMatrixLayoutDestroy", g_api.layout_destroy) &&
            bind(lib, "cublasLtMatmulPreferenceCreate", g_api.pref_create) &&
            bind(lib, "cublasLtMatmulPreferenceDestroy", g_api.pref_destroy) &&
            bind(lib, "cublasLtMatmulPreferenceSetAttribute", g_api.pref_set) &&
            bind(lib, "cublasLtMatmulAlgoGetHeuristic", g_api.heuristic) &&
            bind(lib, "cublasLtMatmul", g_api.matmul);
  if (!ok) {
    dlclose(lib);
    return;
  }
  g_api.version = get_version();
  g_loaded = true;
  snprintf(g_detail, sizeof g_detail, "%s (version %zu)", g_api.soname, g_api.version);
}
}  // namespace

const Api* api() {
  std::call_once(g_once, load_once);
  return g_loaded ? &g_api : nullptr;
}

const char* load_detail() {
  std::call_once(g_once, load_once);
  return g_detail;
}
}  // namespace lt

namespace {

// ---- per-device state: handle, workspace, scratch ---------------------------------------------------

constexpr int kMaxDevices = 64;
constexpr size_t kWorkspaceBytes = size_t(32) << 20;  // what cuBLAS recommends for Hopper and Blackwell

struct DeviceState {
  void* handle = nullptr;
  void* workspace = nullptr;  // allocated once; the call runs without one if that allocation failed
  size_t workspace_bytes = 0;
  bool workspace_tried = false;
  uint8_t* scratch = nullptr;  // swizzled copies of linear scales (grow-only)
  size_t scratch_bytes = 0;
  float* scalars = nullptr;    // device [alpha_effective, beta] for the FP4 call (pointer mode DEVICE)
};
DeviceState g_state[kMaxDevices];
std::mutex g_mu;  // serializes the calls: they share the scratch buffers, which live on one stream

// The heuristic query costs tens of microseconds of host time, so the algorithm it picks is kept per call
// signature (device, kind, types, transposes, shape, leading dimensions, pointer alignments). An algorithm
// depends on nothing else, so reusing it for other buffers of the same signature is valid.
using AlgoKey = std::array<int64_t, 16>;
constexpr size_t kMaxCachedAlgos = 1024;  // a training run uses a few dozen signatures; past this, start over
std::map<AlgoKey, lt::MatmulAlgo> g_algos;

int32_t device_state(const char* fn, const lt::Api* L, DeviceState** out) {
  int dev = 0;
  QUARTET_CUDA_TRY(fn, cudaGetDevice(&dev));
  if (dev < 0 || dev >= kMaxDevices) return fail(QUARTET_ERR_UNSUPPORTED, fn, "device %d is out of range", dev);
  DeviceState& st = g_state[dev];
  if (!st.handle) {
    int s = L->create(&st.handle);
    if (s != lt::kStatusSuccess) {
      st.handle = nullptr;
      return fail(QUARTET_ERR_UNSUPPORTED, fn, "cublasLtCreate failed with cuBLAS status %d", s);
    }
  }
  if (!st.workspace_tried) {
    st.workspace_tried = true;
    if (cudaMalloc(&st.workspace, kWorkspaceBytes) == cudaSuccess) {
      st.workspace_bytes = kWorkspaceBytes;
    } else {
      cudaGetLastError();
      st.workspace = nullptr;
    }
  }
  *out = &st;
  return QUARTET_OK;
}

int32_t ensure_scratch(const char* fn, DeviceState& st, size_t bytes) {
  if (st.scratch_bytes >= bytes) return QUARTET_OK;
  if (st.scratch) {
    QUARTET_CUDA_TRY(fn, cudaFree(st.scratch));  // synchronizes: earlier calls may still read it
    st.scratch = nullptr;
    st.scratch_bytes = 0;
  }
  cudaError_t e = cudaMalloc(&st.scratch, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    st.scratch = nullptr;
    return fail(QUARTET_ERR_OUT_OF_MEMORY, fn, "cannot allocate %zu bytes of scale scratch", bytes);
  }
  st.scratch_bytes = bytes;
  return QUARTET_OK;
}

// ---- descriptors ------------------------------------------------------------------------------------

uint32_t pointer_alignment(const void* p) {
  uint32_t a = 256;
  while (a > 1 && ((uintptr_t)p % a) != 0) a >>= 1;
  return a;
}

// Owns the descriptors of one call.
struct Matmul {
  const lt::Api* L;
  void* desc = nullptr;
  void* layout_a = nullptr;
  void* layout_b = nullptr;
  void* layout_c = nullptr;
  void* pref = nullptr;
  explicit Matmul(const lt::Api* api) : L(api) {}
  ~Matmul() {
    if (pref) L->pref_destroy(pref);
    if (layout_c) L->layout_destroy(layout_c);
    if (layout_b) L->layout_destroy(layout_b);
    if (layout_a) L->layout_destroy(layout_a);
    if (desc) L->desc_destroy(desc);
  }
  Matmul(const Matmul&) = delete;
  Matmul& operator=(const Matmul&) = delete;
};

int32_t lt_check(const char* fn, int status, const char* what) {
  if (status == lt::kStatusSuccess) return QUARTET_OK;
  return fail(QUARTET_ERR_UNSUPPORTED, fn, "cuBLASLt refused %s (cuBLAS status %d)", what, status);
}

int32_t set_attr(const char* fn, Matmul& mm, int attr, int32_t value, const char* what) {
  return lt_check(fn, mm.L->desc_set(mm.desc, attr, &value, sizeof value), what);
}

// Picks an algorithm for the descriptors in `mm` (C and D share layout_c), or reuses the one picked before
// for `signature`, and runs it on our stream.
int32_t run(const char* fn, Matmul& mm, DeviceState& st, const AlgoKey& signature, const void* alpha,
            const void* A, const void* B, const void* beta, void* CD, const char* what) {
  const lt::Api* L = mm.L;
  // The heuristic assumes 256-byte aligned buffers unless told otherwise.
  const uint32_t align[4] = {pointer_alignment(A), pointer_alignment(B), pointer_alignment(CD),
                             pointer_alignment(CD)};
  AlgoKey key = signature;
  key[12] = align[0];
  key[13] = align[1];
  key[14] = align[2];
  key[15] = (int64_t)(&st - g_state);  // the device
  lt::MatmulAlgo algo;
  auto cached = g_algos.find(key);
  if (cached != g_algos.end()) {
    algo = cached->second;
  } else {
    QUARTET_TRY(lt_check(fn, L->pref_create(&mm.pref), "a matmul preference"));
    uint64_t ws = st.workspace_bytes;
    QUARTET_TRY(lt_check(fn, L->pref_set(mm.pref, lt::kPrefMaxWorkspaceBytes, &ws, sizeof ws), "the workspace size"));
    const int align_attr[4] = {lt::kPrefMinAlignA, lt::kPrefMinAlignB, lt::kPrefMinAlignC, lt::kPrefMinAlignD};
    for (int i = 0; i < 4; ++i)
      QUARTET_TRY(lt_check(fn, L->pref_set(mm.pref, align_attr[i], &align[i], sizeof align[i]), "an alignment"));
    lt::HeuristicResult result;
    int returned = 0;
    int s = L->heuristic(st.handle, mm.desc, mm.layout_a, mm.layout_b, mm.layout_c, mm.layout_c, mm.pref, 1,
                         &result, &returned);
    if (s != lt::kStatusSuccess || returned < 1)
      return fail(QUARTET_ERR_UNSUPPORTED, fn, "cuBLASLt (%s) has no algorithm for %s (cuBLAS status %d)",
                  lt::load_detail(), what, s);
    algo = result.algo;
    if (g_algos.size() >= kMaxCachedAlgos) g_algos.clear();
    g_algos.emplace(key, algo);
  }
  int s = L->matmul(st.handle, mm.desc, alpha, A, mm.layout_a, B, mm.layout_b, beta, CD, mm.layout_c, CD,
                    mm.layout_c, &algo, st.workspace, st.workspace_bytes, current_stream());
  if (s == lt::kStatusNotSupported)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "cublasLtMatmul does not support %s", what);
  if (s != lt::kStatusSuccess)
    return fail(QUARTET_ERR_CUDA, fn, "cublasLtMatmul failed for %s (cuBLAS status %d)", what, s);
  return check_launch(fn);
}

// ---- small kernels for the FP4 call -----------------------------------------------------------------

// Linear [rows, cols] scales -> the 128x4 layout of §3.5, pads written as 0.
__global__ void swizzle_scales_kernel(const uint8_t* linear, int64_t rows, int64_t cols, int64_t padded_rows,
                                      int64_t padded_cols, uint8_t* swizzled) {
  const int64_t total = padded_rows * padded_cols;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = i / padded_cols, c = i % padded_cols;
    swizzled[swizzle_offset(r, c, cols)] = (r < rows && c < cols) ? linear[r * cols + c] : (uint8_t)0;
  }
}

// alpha_effective = fl(fl(gA * gB) * alpha) and beta, as device scalars (no host sync on the tensor scales).
__global__ void fp4_scalars_kernel(const float* ga, const float* gb, float alpha, float beta, float* out) {
  const float a = ga ? *ga : 1.0f, b = gb ? *gb : 1.0f;
  out[0] = __fmul_rn(__fmul_rn(a, b), alpha);
  out[1] = beta;
}

// The scales cuBLASLt reads: the caller's swizzled buffer when it is 16-byte aligned, else a scratch copy.
int32_t swizzled_scales(const char* fn, const uint8_t* src, bool src_swizzled, int64_t rows, int64_t cols,
                        uint8_t* scratch, const uint8_t** out) {
  const int64_t bytes = swizzled_bytes(rows, cols);
  if (src_swizzled && ((uintptr_t)src & 15u) == 0) {
    *out = src;
    return QUARTET_OK;
  }
  cudaStream_t s = current_stream();
  if (src_swizzled) {
    QUARTET_CUDA_TRY(fn, cudaMemcpyAsync(scratch, src, (size_t)bytes, cudaMemcpyDeviceToDevice, s));
  } else {
    const int64_t padded_rows = (rows + 127) / 128 * 128, padded_cols = (cols + 3) / 4 * 4;
    const int64_t blocks = (padded_rows * padded_cols + 255) / 256;
    swizzle_scales_kernel<<<(unsigned)(blocks < 4096 ? blocks : 4096), 256, 0, s>>>(src, rows, cols, padded_rows,
                                                                                    padded_cols, scratch);
    QUARTET_TRY(check_launch(fn));
  }
  *out = scratch;
  return QUARTET_OK;
}

}  // namespace

// ---- block-scaled FP4 ---------------------------------------------------------------------------------

namespace {
// arch_gate = false only for the Hopper harness (lt::gemm_fp4_unchecked); used_a/used_b (nullable) receive
// the scale buffers handed to cuBLASLt.
int32_t fp4_call(const Fp4GemmArgs& a, bool arch_gate, const uint8_t** used_a, const uint8_t** used_b) {
  const char* fn = "quartet_gemm_fp4";
  const lt::Api* L = lt::api();
  if (!L) return fail(QUARTET_ERR_UNSUPPORTED, fn, "cuBLASLt is not available: %s", lt::load_detail());
  if (L->version < lt::kFirstFp4Version)
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "block-scaled FP4 GEMMs need cuBLASLt >= 12.8, found %s",
                lt::load_detail());
  int dev = 0, major = 0, minor = 0;
  QUARTET_CUDA_TRY(fn, cudaGetDevice(&dev));
  QUARTET_CUDA_TRY(fn, cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  QUARTET_CUDA_TRY(fn, cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  if (arch_gate && major < 10)
    return fail(QUARTET_ERR_UNSUPPORTED, fn,
                "cuBLASLt block-scaled FP4 GEMMs need a Blackwell GPU (compute capability 10.0+), this one is %d.%d",
                major, minor);

  std::lock_guard<std::mutex> lock(g_mu);
  DeviceState* st = nullptr;
  QUARTET_TRY(device_state(fn, L, &st));
  const bool nvfp4 = a.format == QUARTET_FORMAT_NVFP4;
  const int64_t scale_cols = a.k / block_size(a.format);
  const int64_t bytes_a = swizzled_bytes(a.m, scale_cols), bytes_b = swizzled_bytes(a.n, scale_cols);
  // scratch: [A scales | B scales | 2 floats], each part 256-byte aligned
  const size_t off_b = (size_t)((bytes_a + 255) / 256 * 256), off_s = off_b + (size_t)((bytes_b + 255) / 256 * 256);
  QUARTET_TRY(ensure_scratch(fn, *st, off_s + 256));
  const bool swz = a.scale_layout == QUARTET_SCALES_SWIZZLED;
  const uint8_t *sa = nullptr, *sb = nullptr;
  QUARTET_TRY(swizzled_scales(fn, a.a_scales, swz, a.m, scale_cols, st->scratch, &sa));
  QUARTET_TRY(swizzled_scales(fn, a.b_scales, swz, a.n, scale_cols, st->scratch + off_b, &sb));
  if (used_a) *used_a = sa;
  if (used_b) *used_b = sb;
  float* scalars = (float*)(st->scratch + off_s);
  fp4_scalars_kernel<<<1, 1, 0, current_stream()>>>(a.a_tensor_scale, a.b_tensor_scale, a.alpha,
                                                    a.accumulate ? 1.0f : 0.0f, scalars);
  QUARTET_TRY(check_launch(fn));

  // column-major view: D^T[n, m] = B[n, k] * A[m, k]^T, i.e. cuBLASLt A = our B (transposed), B = our A ("TN")
  Matmul mm(L);
  QUARTET_TRY(lt_check(fn, L->desc_create(&mm.desc, lt::kComputeF32, lt::kTypeF32), "a matmul descriptor"));
  QUARTET_TRY(set_attr(fn, mm, lt::kDescTransA, lt::kOpT, "transa = T"));
  QUARTET_TRY(set_attr(fn, mm, lt::kDescTransB, lt::kOpN, "transb = N"));
  QUARTET_TRY(set_attr(fn, mm, lt::kDescPointerMode, lt::kPointerDevice, "device alpha/beta"));
  const int32_t mode = nvfp4 ? lt::kScaleVec16UE4M3 : lt::kScaleVec32UE8M0;
  QUARTET_TRY(set_attr(fn, mm, lt::kDescAScaleMode, mode, "the A scale mode"));
  QUARTET_TRY(set_attr(fn, mm, lt::kDescBScaleMode, mode, "the B scale mode"));
  const void* lt_a_scales = sb;  // cuBLASLt's A is our B
  const void* lt_b_scales = sa;
  QUARTET_TRY(lt_check(fn, L->desc_set(mm.desc, lt::kDescAScalePointer, &lt_a_scales, sizeof lt_a_scales),
                       "the A scale pointer"));
  QUARTET_TRY(lt_check(fn, L->desc_set(mm.desc, lt::kDescBScalePointer, &lt_b_scales, sizeof lt_b_scales),
                       "the B scale pointer"));
  const int32_t out_type = a.out_dtype == QUARTET_DTYPE_BF16 ? lt::kTypeBF16 : lt::kTypeF32;
  QUARTET_TRY(lt_check(fn, L->layout_create(&mm.layout_a, lt::kTypeE2M1, (uint64_t)a.k, (uint64_t)a.n, a.k),
                       "the FP4 layout of B"));
  QUARTET_TRY(lt_check(fn, L->layout_create(&mm.layout_b, lt::kTypeE2M1, (uint64_t)a.k, (uint64_t)a.m, a.k),
                       "the FP4 layout of A"));
  QUARTET_TRY(lt_check(fn, L->layout_create(&mm.layout_c, out_type, (uint64_t)a.n, (uint64_t)a.m, a.n),
                       "the output layout"));
  char what[160];
  snprintf(what, sizeof what, "%s m=%lld n=%lld k=%lld -> %s", nvfp4 ? "NVFP4" : "MXFP4", (long long)a.m,
           (long long)a.n, (long long)a.k, a.out_dtype == QUARTET_DTYPE_BF16 ? "bf16" : "f32");
  // the accumulate flag is part of the signature: beta (device) = 1 may select another algorithm than 0
  const AlgoKey signature = {1, a.format, a.scale_layout, a.out_dtype, a.accumulate ? 1 : 0, a.m, a.n, a.k, 0, 0, 0, 0};
  return run(fn, mm, *st, signature, scalars, a.b_codes, a.a_codes, scalars + 1, a.out, what);
}
}  // namespace

int32_t gemm_fp4_cublaslt(const Fp4GemmArgs& a) { return fp4_call(a, true, nullptr, nullptr); }

int32_t lt::gemm_fp4_unchecked(const Fp4GemmArgs& a, const uint8_t** used_a_scales, const uint8_t** used_b_scales) {
  return fp4_call(a, false, used_a_scales, used_b_scales);
}

// ---- dense F32 / BF16 -----------------------------------------------------------------------------------

int32_t gemm_cublaslt(const GemmArgs& g) {
  const char* fn = "quartet_gemm";
  const lt::Api* L = lt::api();
  if (!L) return fail(QUARTET_ERR_UNSUPPORTED, fn, "cuBLASLt is not available: %s", lt::load_detail());
  auto lt_type = [](int32_t dt) { return dt == QUARTET_DTYPE_BF16 ? lt::kTypeBF16 : lt::kTypeF32; };
  if ((g.ab_dtype != QUARTET_DTYPE_F32 && g.ab_dtype != QUARTET_DTYPE_BF16) ||
      (g.c_dtype != QUARTET_DTYPE_F32 && g.c_dtype != QUARTET_DTYPE_BF16))
    return fail(QUARTET_ERR_UNSUPPORTED, fn, "the cuBLASLt path takes f32 or bf16 operands");

  std::lock_guard<std::mutex> lock(g_mu);
  DeviceState* st = nullptr;
  QUARTET_TRY(device_state(fn, L, &st));
  Matmul mm(L);
  QUARTET_TRY(lt_check(fn, L->desc_create(&mm.desc, lt::kComputeF32, lt::kTypeF32), "a matmul descriptor"));
  // column-major: C^T[n, m] = op(B)^T[n, k] * op(A)^T[k, m]; a row-major [r, c] buffer is column-major [c, r]
  QUARTET_TRY(set_attr(fn, mm, lt::kDescTransA, g.trans_b ? lt::kOpT : lt::kOpN, "transa"));
  QUARTET_TRY(set_attr(fn, mm, lt::kDescTransB, g.trans_a ? lt::kOpT : lt::kOpN, "transb"));
  const int32_t ab = lt_type(g.ab_dtype);
  QUARTET_TRY(lt_check(fn,
                       L->layout_create(&mm.layout_a, ab, (uint64_t)(g.trans_b ? g.k : g.n),
                                        (uint64_t)(g.trans_b ? g.n : g.k), g.ldb),
                       "the layout of B"));
  QUARTET_TRY(lt_check(fn,
                       L->layout_create(&mm.layout_b, ab, (uint64_t)(g.trans_a ? g.m : g.k),
                                        (uint64_t)(g.trans_a ? g.k : g.m), g.lda),
                       "the layout of A"));
  QUARTET_TRY(lt_check(fn, L->layout_create(&mm.layout_c, lt_type(g.c_dtype), (uint64_t)g.n, (uint64_t)g.m, g.ldc),
                       "the layout of C"));
  char what[160];
  snprintf(what, sizeof what, "%s x %s -> %s, m=%lld n=%lld k=%lld, trans_a=%d trans_b=%d",
           g.ab_dtype == QUARTET_DTYPE_BF16 ? "bf16" : "f32", g.ab_dtype == QUARTET_DTYPE_BF16 ? "bf16" : "f32",
           g.c_dtype == QUARTET_DTYPE_BF16 ? "bf16" : "f32", (long long)g.m, (long long)g.n, (long long)g.k,
           (int)g.trans_a, (int)g.trans_b);
  // pointer mode HOST (the default): alpha and beta are host floats of this call
  const AlgoKey signature = {2, g.ab_dtype, g.c_dtype, g.trans_a, g.trans_b, g.m, g.n, g.k, g.lda, g.ldb, g.ldc,
                             g.beta != 0.0f ? 1 : 0};
  return run(fn, mm, *st, signature, &g.alpha, g.b, g.a, &g.beta, g.c, what);
}

}  // namespace cuda
}  // namespace quartet
