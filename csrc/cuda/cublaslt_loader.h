// cublaslt_loader.h — cuBLASLt found with dlopen at run time (contract §2: optional libraries are never a
// load-time dependency). We declare only what we call, from the public cuBLASLt API documentation: opaque
// handles as void*, enum values as plain integers (they are part of cuBLASLt's stable ABI), and the two
// small structs whose layout the API fixes. No cuBLAS header is needed to build, and nothing links -lcublasLt.
#pragma once
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ops.h"

namespace quartet {
namespace cuda {
namespace lt {

// cublasStatus_t
constexpr int kStatusSuccess = 0;
constexpr int kStatusNotSupported = 15;
// cublasComputeType_t
constexpr int32_t kComputeF32 = 68;  // CUBLAS_COMPUTE_32F
// cudaDataType_t (library_types.h)
constexpr int32_t kTypeF32 = 0;       // CUDA_R_32F
constexpr int32_t kTypeBF16 = 14;     // CUDA_R_16BF
constexpr int32_t kTypeE2M1 = 33;     // CUDA_R_4F_E2M1
// cublasOperation_t
constexpr int32_t kOpN = 0, kOpT = 1;
// cublasLtPointerMode_t
constexpr int32_t kPointerHost = 0, kPointerDevice = 1;
// cublasLtMatmulMatrixScale_t
constexpr int32_t kScaleVec16UE4M3 = 1;  // one UE4M3 scale per 16 elements along k (NVFP4)
constexpr int32_t kScaleVec32UE8M0 = 2;  // one UE8M0 scale per 32 elements along k (MXFP4)
// cublasLtMatmulDescAttributes_t
constexpr int kDescPointerMode = 2;
constexpr int kDescTransA = 3;
constexpr int kDescTransB = 4;
constexpr int kDescAScalePointer = 17;
constexpr int kDescBScalePointer = 18;
constexpr int kDescAScaleMode = 31;
constexpr int kDescBScaleMode = 32;
// cublasLtMatmulPreferenceAttributes_t
constexpr int kPrefMaxWorkspaceBytes = 1;  // uint64_t
constexpr int kPrefMinAlignA = 5, kPrefMinAlignB = 6, kPrefMinAlignC = 7, kPrefMinAlignD = 8;  // uint32_t
// Block-scaled FP4 matmuls (VEC16_UE4M3 / VEC32_UE8M0) appeared in cuBLASLt 12.8.
constexpr size_t kFirstFp4Version = 120800;

struct MatmulAlgo {  // cublasLtMatmulAlgo_t
  uint64_t data[8];
};
struct HeuristicResult {  // cublasLtMatmulHeuristicResult_t
  MatmulAlgo algo;
  size_t workspace_size;
  int state;
  float waves_count;
  int reserved[4];
};

struct Api {
  const char* soname;
  size_t version;  // cublasLtGetVersion(), e.g. 130000
  int (*create)(void** handle);
  int (*destroy)(void* handle);
  int (*desc_create)(void** desc, int32_t compute_type, int32_t scale_type);
  int (*desc_destroy)(void* desc);
  int (*desc_set)(void* desc, int attr, const void* buf, size_t size);
  int (*layout_create)(void** layout, int32_t type, uint64_t rows, uint64_t cols, int64_t ld);
  int (*layout_destroy)(void* layout);
  int (*pref_create)(void** pref);
  int (*pref_destroy)(void* pref);
  int (*pref_set)(void* pref, int attr, const void* buf, size_t size);
  int (*heuristic)(void* handle, void* op, void* a, void* b, void* c, void* d, void* pref, int requested,
                   HeuristicResult* results, int* returned);
  int (*matmul)(void* handle, void* op, const void* alpha, const void* a, void* a_desc, const void* b,
                void* b_desc, const void* beta, const void* c, void* c_desc, void* d, void* d_desc,
                const MatmulAlgo* algo, void* workspace, size_t workspace_size, cudaStream_t stream);
};

// The loaded library (tries libcublasLt.so.13, .so.12, .so), or nullptr; loaded once, never unloaded.
const Api* api();
// Why api() is null (or which file was loaded), for error messages and build info.
const char* load_detail();

// For tests on pre-Blackwell GPUs only: the FP4 call of gemm_fp4_cublaslt without its compute-capability
// gate, so that the scale swizzle, the descriptors (FP4 layouts, scale modes, device alpha/beta) and the
// heuristic query all run and cuBLASLt itself gives the refusal. used_*_scales (nullable) receive the
// swizzled scale buffers passed to cuBLASLt (library scratch, valid until the next FP4 call).
int32_t gemm_fp4_unchecked(const Fp4GemmArgs& a, const uint8_t** used_a_scales, const uint8_t** used_b_scales);

}  // namespace lt
}  // namespace cuda
}  // namespace quartet
