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
    case Isa::kAmx: return "amx";
  }
  return "?";
}

Result<Isa> ParseIsa(std::string_view s) {
  for (Isa isa : kAllIsas)
    if (s == IsaName(isa)) return isa;
  return Error("unknown ISA '" + std::string(s) + "' (expected scalar, avx2, avx512 or amx)");
}

bool Supported(Isa isa) {
  const base::CpuFeatures& f = base::Cpu();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return T81_HAVE_AVX2 && f.avx2;
    case Isa::kAvx512: return T81_HAVE_AVX512 && f.avx512vnni;
    case Isa::kAmx:
#if T81_HAVE_AMX
      return f.amx_int8 && f.amx_bf16 && amx::OsGrantsTiles();
#else
      return false;
#endif
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
#if T81_HAVE_AMX
    case Isa::kAmx: {  // avx512's kernels; the drivers add the tile unit's (isa_tables.h)
      static const KernelTable amx_table = [] {
        KernelTable t = avx512::kTable;
        t.isa = Isa::kAmx;
        return t;
      }();
      return amx_table;
    }
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

bool AmxBf16Supported() {
#if T81_HAVE_AMX
  return Active().isa == Isa::kAmx;
#else
  return false;
#endif
}

void GemmBf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const float* bias,
              const GemmEpilogue* post) {
  T81_CHECK(AmxBf16Supported(), "GemmBf16 needs AMX-BF16");
  T81_CHECK(!post || (post->out && post->ld >= N && (post->unary || (post->backward && post->in))));
  T81_CHECK(!bias || beta == 0.0f, "GemmBf16: a bias only with beta 0");
  T81_CHECK(M >= 0 && N >= 0 && K >= 0 && lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N) && ldc >= N);
  if (M == 0 || N == 0) return;
#if T81_HAVE_AMX
  amx::GemmBf16(trans_a, trans_b, M, N, K, a, lda, b, ldb, beta, c, ldc, bias, post);
#endif
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
#if T81_HAVE_AMX
  if (kt.isa == Isa::kAmx && x.m >= kAmxMinRows) return amx::GemmI8(w, x, y, ldy, alpha, beta);
#endif
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

namespace {
// Sum of q[0, n) (n a multiple of 8) as `streams` interleaved sub-ranges read side by side, each
// prefetched `ahead` bytes in front (0: no software prefetch, the hardware prefetcher alone).
uint64_t SumStreams(const uint64_t* q, int64_t n, int streams, int64_t ahead) {
  const int64_t per = n / 8 / streams * 8;  // words per stream, whole 64-byte lines
  uint64_t total = 0;
  for (int64_t i = 0; i < per; i += 8)
    for (int s = 0; s < streams; ++s) {
      const uint64_t* r = q + s * per + i;
      if (ahead) Prefetch(r + ahead / 8);
      // 64 bytes into 8 independent sums: loads and adds, no chain that would make it latency-bound.
      total += ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    }
  for (int64_t i = per * streams; i < n; ++i) total += q[i];
  return total;
}
}  // namespace

double StreamReadBandwidth(int64_t bytes, int passes) {
  const int64_t n = bytes / 8 / 64 * 64;
  // Padded so a prefetch past the last stream's end stays inside the buffer.
  base::AlignedVector<uint64_t> buf(static_cast<size_t>(n + 1024));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n + 1024; ++i) buf[size_t(i)] = uint64_t(i);  // touched by the threads that read it
  // Three ways to read: one linear stream per thread (the hardware prefetcher alone), the same
  // with a software prefetch 2 KiB ahead, and 4 interleaved streams per thread each prefetched
  // 2 KiB ahead (the decode kernels' pattern). The limit is the best of them: on some CPUs (seen on
  // a 2-vCPU Intel Xeon) one core's plain stream stays well below what prefetching reaches.
  const struct {
    int streams;
    int64_t ahead;
  } kWays[] = {{1, 0}, {1, 2048}, {4, 2048}};
  double best = 0;
  uint64_t sink = 0;
  for (int p = 0; p < passes; ++p)
    for (const auto& way : kWays) {
      const double t0 = base::NowSeconds();
      uint64_t total = 0;
#pragma omp parallel reduction(+ : total)
      {
        const int64_t T = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t lines = n / 8, l0 = lines * t / T, l1 = lines * (t + 1) / T;  // this thread's 64-byte lines
        total += SumStreams(buf.data() + 8 * l0, 8 * (l1 - l0), way.streams, way.ahead);
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
