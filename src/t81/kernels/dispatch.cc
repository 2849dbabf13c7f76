// Kernel table selection (CPUID/XGETBV once, T81_ISA override) and the threaded drivers.
// Compiled without ISA flags: nothing here may execute an AVX instruction.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "t81/base/check.h"
#include "t81/base/cpu.h"
#include "t81/base/timer.h"
#include "t81/kernels/isa_tables.h"

namespace t81::kernels {

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

Result<Isa> ParseIsa(std::string_view s) {
  for (Isa isa : kAllIsas)
    if (s == IsaName(isa)) return isa;
  return Error("unknown ISA '" + std::string(s) + "' (expected scalar, avx2 or avx512)");
}

bool Supported(Isa isa) {
  const base::CpuFeatures& f = base::Cpu();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return T81_HAVE_AVX2 && f.avx2;
    case Isa::kAvx512: return T81_HAVE_AVX512 && f.avx512vnni;
  }
  return false;
}

const KernelTable& ForIsa(Isa isa) {
  T81_CHECK(Supported(isa), "ISA not supported on this CPU");
  switch (isa) {
#if T81_HAVE_AVX2
    case Isa::kAvx2: return avx2::kTable;
#endif
#if T81_HAVE_AVX512
    case Isa::kAvx512: return avx512::kTable;
#endif
    default: return ref::kTable;
  }
}

namespace {
const KernelTable& Choose() {
  Isa best = Isa::kScalar;
  for (Isa isa : kAllIsas)
    if (Supported(isa)) best = isa;
  if (const char* env = std::getenv("T81_ISA"); env && *env) {
    Result<Isa> want = ParseIsa(env);
    if (!want.ok()) {
      std::fprintf(stderr, "t81: T81_ISA: %s; using %s\n", want.status().message().c_str(),
                   IsaName(best));
    } else if (!Supported(want.value())) {
      std::fprintf(stderr, "t81: T81_ISA=%s is not supported by this CPU; using %s\n", env,
                   IsaName(best));
    } else {
      best = want.value();
    }
  }
  return ForIsa(best);
}

// Work items: (block of up to kMBlock rows of X) x (group of 16-row tiles of W).
constexpr int64_t kMBlock = 64;
constexpr int64_t kTilesPerItem = 4;

template <typename F>
void ForEachItem(int64_t m, int64_t tiles, F&& f) {
  const int64_t mb = (m + kMBlock - 1) / kMBlock;
  const int64_t tb = (tiles + kTilesPerItem - 1) / kTilesPerItem;
  const int64_t items = mb * tb;
  if (items <= 0) return;
  const int threads = int(std::min<int64_t>(omp_get_max_threads(), items));
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t it = 0; it < items; ++it) {
    // Consecutive items share a block of X rows (64 rows · K bytes stay in L2 while the thread
    // walks its tiles of W).
    const int64_t mi = it / tb, ti = it % tb;
    f(mi * kMBlock, std::min(m, (mi + 1) * kMBlock), ti * kTilesPerItem,
      std::min(tiles, (ti + 1) * kTilesPerItem));
  }
}
}  // namespace

const KernelTable& Active() {
  static const KernelTable& kt = Choose();
  return kt;
}

void GemmF32(const KernelTable& kt, const PackedWeights& w, const float* x, int64_t m,
             int64_t ldx, float* y, int64_t ldy, float alpha, float beta) {
  T81_CHECK(ldx >= w.k && ldy >= w.n);
  ForEachItem(m, w.tiles, [&](int64_t m0, int64_t m1, int64_t t0, int64_t t1) {
    kt.gemm_f32(w, x, ldx, m0, m1, t0, t1, y, ldy, alpha, beta);
  });
}

void GemmI8(const KernelTable& kt, const PackedWeights& w, const QuantizedActs& x, float* y,
            int64_t ldy, float alpha, float beta) {
  T81_CHECK(x.k == w.k && x.kb == w.kb && ldy >= w.n);
  ForEachItem(x.m, w.tiles, [&](int64_t m0, int64_t m1, int64_t t0, int64_t t1) {
    kt.gemm_i8(w, x, m0, m1, t0, t1, y, ldy, alpha, beta);
  });
}

void GemmQ8(const KernelTable& kt, const Q8Weights& w, const Q8Acts& x, float* y, int64_t ldy) {
  T81_CHECK(x.k == w.k && x.kb == w.kb && ldy >= w.n);
  ForEachItem(x.m, w.tiles, [&](int64_t m0, int64_t m1, int64_t t0, int64_t t1) {
    kt.gemm_q8(w, x, m0, m1, t0, t1, y, ldy);
  });
}

double StreamReadBandwidth(int64_t bytes, int passes) {
  const int64_t n = bytes / 8;
  base::AlignedVector<uint64_t> buf(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) buf[size_t(i)] = uint64_t(i);  // touched by the threads that read it
  double best = 0;
  uint64_t sink = 0;
  for (int p = 0; p < passes; ++p) {
    const double t0 = base::NowSeconds();
    uint64_t total = 0;
    // 64 bytes an iteration into 8 independent sums (vectorized: loads and adds, no dependency
    // chain that would make the loop latency-bound instead of memory-bound).
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < n / 8; ++i) {
      const uint64_t* q = buf.data() + 8 * i;
      uint64_t a[8];
      for (int j = 0; j < 8; ++j) a[j] = q[j];
      total += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
    best = std::max(best, double(n) * 8 / (base::NowSeconds() - t0) / 1e9);
    sink += total;
  }
  if (sink == 42) std::fprintf(stderr, " ");  // keep the sums alive
  return best;
}

void GemvF32(const KernelTable& kt, const float* w, int64_t n, int64_t k, const float* x, float* y) {
  constexpr int64_t kRowsPerItem = 64;
  const int64_t items = (n + kRowsPerItem - 1) / kRowsPerItem;
  const int threads = int(std::min<int64_t>(omp_get_max_threads(), items));
#pragma omp parallel for schedule(static) num_threads(threads) if (n * k > (1 << 16))
  for (int64_t it = 0; it < items; ++it)
    kt.gemv_f32(w, k, x, it * kRowsPerItem, std::min(n, (it + 1) * kRowsPerItem), y);
}

void GemmHalf(const KernelTable& kt, const HalfWeights& w, const float* x, int64_t m, int64_t ldx, float* y,
             int64_t ldy) {
  T81_CHECK(ldx >= w.k && ldy >= w.n);
  ForEachItem(m, w.tiles, [&](int64_t m0, int64_t m1, int64_t t0, int64_t t1) {
    kt.gemm_half(w, x, ldx, m0, m1, t0, t1, y, ldy);
  });
}

}  // namespace t81::kernels
