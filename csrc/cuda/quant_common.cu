// quant_common.cu — host side of quant_common.cuh: SM counts, occupancy cache, the grow-only workspace.
#include "cuda/quant_common.cuh"

namespace quartet {
namespace cuda {

namespace {
constexpr int kMaxDevices = 64;

int device_index() {
  int d = 0;
  if (cudaGetDevice(&d) != cudaSuccess) {
    cudaGetLastError();
    d = 0;
  }
  return d < 0 || d >= kMaxDevices ? 0 : d;
}

struct WorkspaceSlot {
  std::mutex mu;
  void* ptr = nullptr;
  size_t bytes = 0;
};
WorkspaceSlot g_workspace[kMaxDevices];

std::mutex g_cache_mu;
int g_sm_count[kMaxDevices] = {};
struct OccEntry {
  const void* kernel;
  size_t smem;
  int per_sm;
};
OccEntry g_occ[256];
int g_occ_n = 0;
}  // namespace

int sm_count() {
  int d = device_index();
  std::lock_guard<std::mutex> g(g_cache_mu);
  if (g_sm_count[d] == 0) {
    int n = 0;
    if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, d) != cudaSuccess || n <= 0) {
      cudaGetLastError();
      n = 1;
    }
    g_sm_count[d] = n;
  }
  return g_sm_count[d];
}

int ctas_per_sm(const void* kernel, size_t smem) {
  std::lock_guard<std::mutex> g(g_cache_mu);
  for (int i = 0; i < g_occ_n; ++i)
    if (g_occ[i].kernel == kernel && g_occ[i].smem == smem) return g_occ[i].per_sm;
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kThreads, smem) != cudaSuccess || n <= 0) {
    cudaGetLastError();
    n = 1;
  }
  if (g_occ_n < 256) g_occ[g_occ_n++] = OccEntry{kernel, smem, n};
  return n;
}

Workspace::Workspace() : device_(device_index()) { lock_ = std::unique_lock<std::mutex>(g_workspace[device_].mu); }
Workspace::~Workspace() = default;

int32_t Workspace::get(const char* fn, size_t bytes, void** p) {
  WorkspaceSlot& s = g_workspace[device_];
  if (bytes == 0) bytes = 256;
  if (s.bytes < bytes) {
    cudaStream_t st = current_stream();
    if (s.ptr) {
      // stream-ordered: kernels already queued on the stream finish with the old buffer first
      QUARTET_CUDA_TRY(fn, cudaFreeAsync(s.ptr, st));
      s.ptr = nullptr;
      s.bytes = 0;
    }
    size_t grow = bytes + bytes / 4;  // grow with some headroom so that slowly growing shapes do not thrash
    cudaError_t e = cudaMallocAsync(&s.ptr, grow, st);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      s.ptr = nullptr;
      return fail(QUARTET_ERR_OUT_OF_MEMORY, fn, "cannot allocate %zu bytes of CUDA scratch memory", grow);
    }
    QUARTET_CUDA_TRY(fn, e);
    s.bytes = grow;
  }
  *p = s.ptr;
  return QUARTET_OK;
}

int32_t status_word(const char* fn, int32_t** st) {
  *st = device_status();
  if (!*st) return fail(QUARTET_ERR_OUT_OF_MEMORY, fn, "cannot allocate the CUDA status word");
  return QUARTET_OK;
}

}  // namespace cuda
}  // namespace quartet
