// context.cu — the CUDA backend's plumbing: devices, the stream, memory, copies, the status word and the
// run-time probes reported in build info. The CUDA runtime is linked statically; only the driver is needed.
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <mutex>
#include <string>

#include "cuda/cuda_common.cuh"

namespace quartet {
namespace cuda {

namespace {
constexpr int kMaxDevices = 64;
cudaStream_t g_streams[kMaxDevices] = {};
int32_t* g_status[kMaxDevices] = {};
std::mutex g_mu;

int current_device() {
  int d = 0;
  cudaGetDevice(&d);
  return d < 0 || d >= kMaxDevices ? 0 : d;
}

// Reads and clears the device status word; returns QUARTET_OK or the stored error (stream must be idle).
int32_t collect_status(const char* fn) {
  int32_t* st = device_status();
  if (!st) return QUARTET_OK;
  int32_t h = 0;
  QUARTET_CUDA_TRY(fn, cudaMemcpy(&h, st, sizeof h, cudaMemcpyDeviceToHost));
  if (h == 0) return QUARTET_OK;
  QUARTET_CUDA_TRY(fn, cudaMemset(st, 0, sizeof h));
  if (h == QUARTET_ERR_NON_FINITE)
    return fail(h, fn, "a CUDA kernel found a non-finite value (NaN or Inf) in a quantizer input");
  if (h == QUARTET_ERR_INVALID_ARGUMENT)
    return fail(h, fn, "a CUDA kernel found an out-of-range value in its input (e.g. a token id >= vocab size)");
  return fail(h, fn, "a CUDA kernel reported status %d", h);
}
}  // namespace

bool compiled() { return true; }

int32_t device_count(int32_t* count) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // no driver / no device: a normal state, not an error
    n = 0;
  }
  *count = n;
  return QUARTET_OK;
}

cudaStream_t current_stream() {
  int d = current_device();
  std::lock_guard<std::mutex> g(g_mu);
  if (!g_streams[d]) cudaStreamCreateWithFlags(&g_streams[d], cudaStreamNonBlocking);
  return g_streams[d];
}

int32_t* device_status() {
  int d = current_device();
  std::lock_guard<std::mutex> g(g_mu);
  if (!g_status[d]) {
    if (cudaMalloc(&g_status[d], sizeof(int32_t)) != cudaSuccess) { g_status[d] = nullptr; return nullptr; }
    cudaMemset(g_status[d], 0, sizeof(int32_t));
  }
  return g_status[d];
}

int32_t check_launch(const char* fn) {
  QUARTET_CUDA_TRY(fn, cudaGetLastError());
  return QUARTET_OK;
}

int32_t set_device(int32_t device) {
  QUARTET_CUDA_TRY("quartet_cuda_set_device", cudaSetDevice(device));
  return QUARTET_OK;
}

int32_t get_device(int32_t* device) {
  int d = 0;
  QUARTET_CUDA_TRY("quartet_cuda_get_device", cudaGetDevice(&d));
  *device = d;
  return QUARTET_OK;
}

int32_t device_info(int32_t device, char* name, int64_t cap, int32_t* major, int32_t* minor, int64_t* total,
                    int32_t* sms) {
  cudaDeviceProp p;
  QUARTET_CUDA_TRY("quartet_cuda_device_info", cudaGetDeviceProperties(&p, device));
  if (name && cap > 0) {
    strncpy(name, p.name, (size_t)cap - 1);
    name[cap - 1] = '\0';
  }
  if (major) *major = p.major;
  if (minor) *minor = p.minor;
  if (total) *total = (int64_t)p.totalGlobalMem;
  if (sms) *sms = p.multiProcessorCount;
  return QUARTET_OK;
}

int32_t mem_info(int64_t* free_bytes, int64_t* total_bytes) {
  size_t f = 0, t = 0;
  QUARTET_CUDA_TRY("quartet_cuda_mem_info", cudaMemGetInfo(&f, &t));
  *free_bytes = (int64_t)f;
  *total_bytes = (int64_t)t;
  return QUARTET_OK;
}

int32_t stream(void** s) {
  *s = (void*)current_stream();
  return QUARTET_OK;
}

int32_t malloc_bytes(int64_t bytes, void** p) {
  cudaError_t e = cudaMalloc(p, (size_t)bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    *p = nullptr;
    return fail(QUARTET_ERR_OUT_OF_MEMORY, "quartet_malloc", "cannot allocate %lld bytes on the CUDA device",
                (long long)bytes);
  }
  QUARTET_CUDA_TRY("quartet_malloc", e);
  return QUARTET_OK;
}

int32_t free_ptr(void* p) {
  // Work queued on the stream may still read this memory: cudaFree synchronizes the device.
  QUARTET_CUDA_TRY("quartet_free", cudaFree(p));
  return QUARTET_OK;
}

int32_t copy(void* dst, const void* src, int64_t bytes, int kind) {
  const char* fn = "quartet_memcpy";
  cudaStream_t s = current_stream();
  cudaMemcpyKind k = kind == 0 ? cudaMemcpyHostToDevice : kind == 1 ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
  QUARTET_CUDA_TRY(fn, cudaMemcpyAsync(dst, src, (size_t)bytes, k, s));
  if (kind != 2) {
    // host memory is borrowed only for the call: finish the copy (and report queued kernel errors)
    QUARTET_CUDA_TRY(fn, cudaStreamSynchronize(s));
    return collect_status(fn);
  }
  return QUARTET_OK;
}

int32_t memset_bytes(void* p, int32_t value, int64_t bytes) {
  QUARTET_CUDA_TRY("quartet_memset", cudaMemsetAsync(p, value, (size_t)bytes, current_stream()));
  return QUARTET_OK;
}

int32_t sync() {
  QUARTET_CUDA_TRY("quartet_sync", cudaStreamSynchronize(current_stream()));
  return collect_status("quartet_sync");
}

const char* runtime_version() {
#ifdef QUARTET_CUDA_VERSION
  return QUARTET_CUDA_VERSION;
#else
  return "";
#endif
}

const char* arch_list() {
#ifdef QUARTET_CUDA_ARCH_LIST
  return QUARTET_CUDA_ARCH_LIST;
#else
  return "";
#endif
}

const char* optional_libraries_json() {
  static std::string json;
  void* h = dlopen("libcublasLt.so.13", RTLD_LAZY | RTLD_LOCAL);
  const char* which = "libcublasLt.so.13";
  if (!h) { h = dlopen("libcublasLt.so.12", RTLD_LAZY | RTLD_LOCAL); which = "libcublasLt.so.12"; }
  if (!h) { h = dlopen("libcublasLt.so", RTLD_LAZY | RTLD_LOCAL); which = "libcublasLt.so"; }
  if (h) {
    json = std::string("{\"cublasLt\":{\"found\":true,\"detail\":\"") + which + "\"}}";
    dlclose(h);
  } else {
    json = "{\"cublasLt\":{\"found\":false,\"detail\":\"libcublasLt.so not found by dlopen; the built-in GEMMs are used\"}}";
  }
  return json.c_str();
}

}  // namespace cuda
}  // namespace quartet
