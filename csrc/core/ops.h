// ops.h — the validated arguments of every operation, and the backend entry points that take them.
//
// csrc/core/api.cpp checks every argument at the C boundary and fills these structs; the CPU backend
// (csrc/cpu/) and the CUDA backend (csrc/cuda/) implement the same functions over them, so that the two
// can never disagree on what an argument means. Shapes here are already checked: kernels may assume them.
#pragma once
#include <stdint.h>
#include "quartet.h"

namespace quartet {

struct RhtSpec {
  int32_t dim = 0;            // 0 (none), 16, 32 or 128
  bool has_signs = false;     // false = all +1
  uint32_t signs[4] = {0, 0, 0, 0};
};

struct QuantizeArgs {
  int32_t format, method;
  const void* x;
  int32_t x_dtype;
  int64_t rows, cols;         // storage shape of x
  bool transpose;             // logical matrix = x^T
  int64_t R, K;               // logical shape being quantized (blocks along K)
  RhtSpec rht;
  uint32_t seed, step, tag;
  const float* amax_override; // nullable, backend memory
  float* amax_out;            // nullable, backend memory
  int32_t scale_layout;
  uint8_t* codes;
  uint8_t* scales;
  float* tensor_scale;        // nullable for MXFP4
  uint8_t* trust_mask;        // nullable
};

struct RequantizeArgs {
  int32_t src_format;
  const uint8_t* src_codes;
  const uint8_t* src_scales;  // linear layout
  const float* src_tensor_scale;  // nullable = 1
  int64_t rows, cols;         // source logical shape; output logical shape is [cols, rows]
  int32_t format, method;
  RhtSpec rht;
  uint32_t seed, step, tag;
  int32_t scale_layout;
  uint8_t* codes;
  uint8_t* scales;
  float* tensor_scale;
};

struct DequantizeArgs {
  int32_t format;
  const uint8_t* codes;
  const uint8_t* scales;
  const float* tensor_scale;  // nullable = 1
  int64_t rows, cols;
  int32_t scale_layout;
  void* out;
  int32_t out_dtype;
};

struct RhtArgs {
  const void* x;
  int32_t x_dtype;
  int64_t rows, cols;
  RhtSpec rht;
  void* out;
  int32_t out_dtype;
};

struct AbsmaxArgs {
  const void* x;
  int32_t x_dtype;
  int64_t n;
  float* amax;
};

struct SwizzleArgs {
  const uint8_t* src;
  uint8_t* dst;
  int64_t rows, scale_cols;
  bool to_swizzled;
};

struct Fp4GemmArgs {
  int32_t format;
  const uint8_t *a_codes, *a_scales;
  const float* a_tensor_scale;  // nullable
  const uint8_t *b_codes, *b_scales;
  const float* b_tensor_scale;  // nullable
  int64_t m, n, k;
  int32_t scale_layout;
  float alpha;
  bool accumulate;
  void* out;
  int32_t out_dtype;
};

struct GemmArgs {
  int32_t ab_dtype;
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha;
  const void* a;
  int64_t lda;
  const void* b;
  int64_t ldb;
  float beta;
  void* c;
  int64_t ldc;
  int32_t c_dtype;
};

// Small element-wise ops the linear layers are built from (csrc/cpu/linear_ops.cpp, csrc/cuda/linear_ops.cu).
struct ConvertArgs {      // out[i] = x[i] (F32 <-> BF16, RNE), n elements
  const void* x;
  int32_t x_dtype;
  void* out;
  int32_t out_dtype;
  int64_t n;
};
struct Transpose16Args {  // exact transpose of a 16x16-blocked NVFP4 matrix [rows, cols] -> [cols, rows]
  const uint8_t* codes;
  const uint8_t* scales;  // linear [rows, cols/16], tile-replicated
  const float* tensor_scale;
  int64_t rows, cols;
  uint8_t* out_codes;
  uint8_t* out_scales;    // linear [cols, rows/16]
  float* out_tensor_scale;
};
struct MaskRhtArgs {      // out = RHT(x (.) mask) row-wise (Quartet v1 backward through QuEST); x F32 [rows, cols]
  const float* x;
  const uint8_t* mask;    // [rows, cols/8] bits, as the QuEST trust mask
  int64_t rows, cols;
  RhtSpec rht;
  void* out;
  int32_t out_dtype;
  bool accumulate;        // F32 out only: out += result
};

// The quantize call a requantize is equal to (§5.8): the logical matrix is the decoded source transposed, so
// x is unset (each backend reads the decoded source itself) and no abs-max override or trust mask applies.
inline QuantizeArgs requantize_target(const RequantizeArgs& a) {
  QuantizeArgs q{};
  q.format = a.format;
  q.method = a.method;
  q.x = nullptr;
  q.x_dtype = QUARTET_DTYPE_F32;
  q.rows = a.rows;
  q.cols = a.cols;
  q.transpose = true;
  q.R = a.cols;
  q.K = a.rows;
  q.rht = a.rht;
  q.seed = a.seed;
  q.step = a.step;
  q.tag = a.tag;
  q.amax_override = nullptr;
  q.amax_out = nullptr;
  q.scale_layout = a.scale_layout;
  q.codes = a.codes;
  q.scales = a.scales;
  q.tensor_scale = a.tensor_scale;
  q.trust_mask = nullptr;
  return q;
}

inline int32_t block_size(int32_t format) { return format == QUARTET_FORMAT_MXFP4 ? 32 : 16; }

// Each backend implements these (returning QUARTET_OK or fail(...)). `fn` is the public name for errors.
#define QUARTET_BACKEND_OPS(NS)                                                     \
  namespace NS {                                                                    \
  int32_t absmax(const AbsmaxArgs& a);                                              \
  int32_t rht(const RhtArgs& a);                                                    \
  int32_t quantize(const QuantizeArgs& a);                                          \
  int32_t requantize(const RequantizeArgs& a);                                      \
  int32_t dequantize(const DequantizeArgs& a);                                      \
  int32_t swizzle(const SwizzleArgs& a);                                            \
  int32_t gemm_fp4(const Fp4GemmArgs& a);                                           \
  int32_t gemm(const GemmArgs& a);                                                  \
  int32_t convert(const ConvertArgs& a);                                            \
  int32_t transpose16(const Transpose16Args& a);                                    \
  int32_t mask_rht(const MaskRhtArgs& a);                                           \
  }

QUARTET_BACKEND_OPS(cpu)
QUARTET_BACKEND_OPS(cuda)

// CUDA context (csrc/cuda/context.cu, or the stubs in csrc/core/cuda_stub.cpp when built without CUDA).
namespace cuda {
bool compiled();
int32_t device_count(int32_t* count);  // 0 devices is not an error
int32_t set_device(int32_t device);
int32_t get_device(int32_t* device);
int32_t device_info(int32_t device, char* name, int64_t cap, int32_t* major, int32_t* minor,
                    int64_t* total, int32_t* sms);
int32_t mem_info(int64_t* free_bytes, int64_t* total_bytes);
int32_t stream(void** s);
int32_t malloc_bytes(int64_t bytes, void** p);
int32_t free_ptr(void* p);
// kind: 0 host->device, 1 device->host, 2 device->device
int32_t copy(void* dst, const void* src, int64_t bytes, int kind);
int32_t memset_bytes(void* p, int32_t value, int64_t bytes);
int32_t sync();
const char* runtime_version();     // e.g. "13.0" (compiled-in runtime)
const char* arch_list();           // e.g. "80,90a,100a,120a"
// JSON object text for build info's "optional" libraries (e.g. cuBLASLt found by dlopen).
const char* optional_libraries_json();
// GEMM path override and report (values: GemmPath in csrc/cuda/gemm_paths.h; argument already range-checked).
int32_t set_gemm_path(int32_t path);
int32_t gemm_last_path(int32_t* path);
}  // namespace cuda

}  // namespace quartet
