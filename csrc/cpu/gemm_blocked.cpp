// gemm_blocked.cpp — the blocked GEMM driver (design in gemm_blocked.h).
#include "cpu/gemm_blocked.h"

#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "core/parallel.h"
#include "cpu/gemm_kernels.h"

namespace quartet {
namespace cpu {
namespace {

// Block sizes. KC x NR floats of B (32 KiB for NR = 32) fit L1 with room for the A micro-panel; MC x KC
// floats of A (~96 KiB) plus the MC x NC accumulator tile (~192 KiB) fit a per-core L2. NC is shrunk for
// very long k so that the shared packed B panel (k x NC floats) stays below kMaxPackedB bytes.
constexpr int64_t kKC = 256;
constexpr int64_t kMCTarget = 96;
constexpr int64_t kNCMax = 512;
constexpr int64_t kMaxPackedB = int64_t(16) << 20;
// Below this many multiply-adds a GEMM runs on the calling thread (waking the pool costs more).
constexpr double kSerialWork = double(1 << 18);

static_assert(kKC % PanelSource::kBlockAlign == 0 && kKC <= PanelSource::kMaxK, "k blocks must match PanelSource");

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct FreeDeleter {
  void operator()(float* p) const { free(p); }
};
using FloatBuffer = std::unique_ptr<float, FreeDeleter>;

// 64-byte aligned, uninitialized; nullptr on failure (never throws).
float* alloc_floats(int64_t n) {
  size_t bytes = ((size_t)std::max<int64_t>(n, 1) * sizeof(float) + 63) & ~(size_t)63;
  return (float*)aligned_alloc(64, bytes);
}

// Per-thread scratch (packed A block + accumulator tile), kept between calls so that small GEMMs do not
// pay for page faults on every call. Grows only; at most a few hundred KiB per thread.
struct ThreadScratch {
  FloatBuffer buf;
  int64_t cap = 0;
  float* get(int64_t n) {
    if (n > cap) {
      buf.reset(alloc_floats(n));
      cap = buf ? n : 0;
    }
    return buf.get();
  }
};
thread_local ThreadScratch t_scratch;
// The shared packed B panel lives on the calling thread; kept between calls up to kRetainPackedB floats
// (re-faulting fresh pages on every call cost ~20% of a skinny GEMM).
thread_local ThreadScratch t_packed_b;
constexpr int64_t kRetainPackedB = int64_t(4) << 20;

}  // namespace

bool blocked_gemm(int64_t m, int64_t n, int64_t k, const PanelSource& a, const PanelSource& b,
                  const TileEpilogue& out) {
  const MicroKernel& uk = gemm_micro_kernel();
  const int64_t MR = uk.mr, NR = uk.nr;
  const int64_t threads = cpu_threads();

  // Row tiles: kMCTarget rows, fewer when that leaves threads idle (down to one micro-panel). Splitting
  // rows is free (each row of op(A) is still packed once per column panel); columns are split below
  // only when m is too short to give every thread a row tile.
  const bool serial = (double)m * (double)n * (double)k <= kSerialWork || threads == 1;
  const int64_t mpanels_total = ceil_div(m, MR);
  const int64_t mc = std::min(ceil_div(kMCTarget, MR), serial ? mpanels_total : ceil_div(mpanels_total, 2 * threads)) * MR;
  int64_t nc = std::min(kNCMax, ceil_div(n, NR) * NR);
  const int64_t nc_for_k = (kMaxPackedB / ((int64_t)sizeof(float) * k)) / NR * NR;
  nc = std::max(NR, std::min(nc, nc_for_k));
  const int64_t kblocks = ceil_div(k, kKC);

  float* bp = t_packed_b.get(k * nc);
  if (!bp) return false;
  struct ReleaseLarge {  // keep the packed-B buffer for the next call unless it is large
    ~ReleaseLarge() {
      if (t_packed_b.cap > kRetainPackedB) t_packed_b = ThreadScratch();
    }
  } release_large;
  std::atomic<bool> out_of_memory{false};

  for (int64_t jc = 0; jc < n; jc += nc) {
    const int64_t ncur = std::min(nc, n - jc);
    const int64_t npanels = ceil_div(ncur, NR), ncpad = npanels * NR;
    // Layout: k block kb, micro-panel p at  bp + kb * KC * ncpad + p * kcur * NR  (kcur x NR floats).
    auto pack_b = [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        int64_t kb = t / npanels, p = t % npanels;
        int64_t k0 = kb * kKC, kcur = std::min(kKC, k - k0);
        b.pack(jc + p * NR, std::min(NR, ncur - p * NR), k0, kcur, NR, bp + k0 * ncpad + p * kcur * NR);
      }
    };
    if (serial) pack_b(0, kblocks * npanels);
    else parallel_for(kblocks * npanels, 1, pack_b);

    // Output tiles: MC rows x a range of B micro-panels. Split the column panel only when there are too
    // few row tiles to keep every thread busy.
    const int64_t mtiles = ceil_div(m, mc);
    int64_t nsplit = (serial || mtiles >= 2 * threads) ? 1 : std::min(npanels, ceil_div(2 * threads, mtiles));
    const int64_t panels_per_tile = ceil_div(npanels, nsplit);
    nsplit = ceil_div(npanels, panels_per_tile);
    const int64_t acc_ld = panels_per_tile * NR;

    auto run_tiles = [&](int64_t begin, int64_t end) {
      float* scratch = t_scratch.get(mc * kKC + mc * acc_ld);
      if (!scratch) {
        out_of_memory.store(true);
        return;
      }
      float* ap = scratch;
      float* acc = scratch + mc * kKC;
      for (int64_t t = begin; t < end; ++t) {
        const int64_t mt = t / nsplit, s = t % nsplit;
        const int64_t i0 = mt * mc, mcur = std::min(mc, m - i0), mpanels = ceil_div(mcur, MR);
        const int64_t p0 = s * panels_per_tile, p1 = std::min(npanels, p0 + panels_per_tile);
        memset(acc, 0, sizeof(float) * (size_t)(mpanels * MR * acc_ld));
        for (int64_t kb = 0; kb < kblocks; ++kb) {
          const int64_t k0 = kb * kKC, kcur = std::min(kKC, k - k0);
          for (int64_t ip = 0; ip < mpanels; ++ip)
            a.pack(i0 + ip * MR, std::min(MR, mcur - ip * MR), k0, kcur, MR, ap + ip * kcur * MR);
          for (int64_t p = p0; p < p1; ++p) {
            const float* bpanel = bp + k0 * ncpad + p * kcur * NR;
            for (int64_t ip = 0; ip < mpanels; ++ip)
              uk.fn(kcur, ap + ip * kcur * MR, bpanel, acc + ip * MR * acc_ld + (p - p0) * NR, acc_ld);
          }
        }
        const int64_t j0 = p0 * NR;
        out.store(i0, jc + j0, mcur, std::min(ncur - j0, (p1 - p0) * NR), acc, acc_ld);
      }
    };
    if (serial) run_tiles(0, mtiles * nsplit);
    else parallel_for(mtiles * nsplit, 1, run_tiles);
    if (out_of_memory.load()) return false;
  }
  return true;
}

}  // namespace cpu
}  // namespace quartet
