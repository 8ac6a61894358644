// cuda_stub.cpp — the CUDA entry points of a build without nvcc: the backend reports itself absent.
#ifndef QUARTET_HAVE_CUDA
#include "core/ops.h"
#include "core/status.h"

namespace quartet {
namespace cuda {

static int32_t absent(const char* what) {
  return fail(QUARTET_ERR_UNSUPPORTED, what, "this build of libquartet has no CUDA backend (built without nvcc)");
}

bool compiled() { return false; }
int32_t device_count(int32_t* count) { *count = 0; return QUARTET_OK; }
int32_t set_device(int32_t) { return absent("quartet_cuda_set_device"); }
int32_t get_device(int32_t*) { return absent("quartet_cuda_get_device"); }
int32_t device_info(int32_t, char*, int64_t, int32_t*, int32_t*, int64_t*, int32_t*) { return absent("quartet_cuda_device_info"); }
int32_t mem_info(int64_t*, int64_t*) { return absent("quartet_cuda_mem_info"); }
int32_t stream(void**) { return absent("quartet_cuda_stream"); }
int32_t malloc_bytes(int64_t, void**) { return absent("quartet_malloc"); }
int32_t free_ptr(void*) { return absent("quartet_free"); }
int32_t copy(void*, const void*, int64_t, int) { return absent("quartet_memcpy"); }
int32_t memset_bytes(void*, int32_t, int64_t) { return absent("quartet_memset"); }
int32_t sync() { return absent("quartet_sync"); }
const char* runtime_version() { return ""; }
const char* arch_list() { return ""; }
const char* optional_libraries_json() {
  return "{\"cublasLt\":{\"found\":false,\"detail\":\"no CUDA backend in this build\"}}";
}

int32_t set_gemm_path(int32_t) { return absent("quartet_cuda_set_gemm_path"); }
int32_t gemm_last_path(int32_t*) { return absent("quartet_cuda_gemm_last_path"); }

int32_t absmax(const AbsmaxArgs&) { return absent("quartet_absmax"); }
int32_t rht(const RhtArgs&) { return absent("quartet_rht"); }
int32_t quantize(const QuantizeArgs&) { return absent("quartet_quantize"); }
int32_t requantize(const RequantizeArgs&) { return absent("quartet_requantize"); }
int32_t dequantize(const DequantizeArgs&) { return absent("quartet_dequantize"); }
int32_t swizzle(const SwizzleArgs&) { return absent("quartet_swizzle_scales"); }
int32_t gemm_fp4(const Fp4GemmArgs&) { return absent("quartet_gemm_fp4"); }
int32_t gemm(const GemmArgs&) { return absent("quartet_gemm"); }
int32_t convert(const ConvertArgs&) { return absent("quartet_linear"); }
int32_t transpose16(const Transpose16Args&) { return absent("quartet_linear"); }
int32_t mask_rht(const MaskRhtArgs&) { return absent("quartet_linear"); }

}  // namespace cuda
}  // namespace quartet
#endif
