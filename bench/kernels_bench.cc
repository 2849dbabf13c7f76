// Google Benchmark microbenchmarks: ternary GEMV/GEMM per ISA and activation path, with OpenBLAS
// sgemv/sgemm on the same shapes in the same binary. Threads: --benchmark args set none; the
// process uses T81 default (1 thread) unless T81_THREADS is set.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "t81/base/cpu.h"
#include "t81/base/rng.h"
#include "t81/base/threads.h"
#include "t81/kernels/kernels.h"

namespace t81 {
namespace {

struct Setup {
  kernels::PackedWeights w;
  std::vector<float> wf, x, y;
  int64_t m, n, k;
};

Setup Make(int64_t m, int64_t n, int64_t k) {
  Setup s;
  s.m = m;
  s.n = n;
  s.k = k;
  base::Rng rng(42);
  s.wf.resize(size_t(n * k));
  for (float& v : s.wf) v = float(rng.Normal() * 0.02);
  s.w = kernels::Repack(quant::QuantizeMatrix(s.wf.data(), n, k, quant::Granularity::kRow, 0.45f,
                                              quant::TqFormat::kTq2_0));
  s.x.resize(size_t(m * k));
  for (float& v : s.x) v = float(rng.Normal());
  s.y.assign(size_t(m * n), 0.0f);
  return s;
}

void Counters(benchmark::State& st, const Setup& s) {
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(s.m * s.n * s.k),
                                              benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

void BM_TernaryI8(benchmark::State& st) {
  const auto isa = kernels::Isa(st.range(0));
  if (!kernels::Supported(isa)) return st.SkipWithError("ISA not supported");
  Setup s = Make(st.range(1), st.range(2), st.range(3));
  kernels::QuantizedActs q;
  for (auto _ : st) {
    kernels::QuantizeActs(s.x.data(), s.m, s.k, s.k, &q);
    kernels::GemmI8(kernels::ForIsa(isa), s.w, q, s.y.data(), s.n);
    benchmark::DoNotOptimize(s.y.data());
  }
  Counters(st, s);
  st.SetLabel(kernels::IsaName(isa));
}

// The integer kernel alone (X quantized once, outside the timed loop).
void BM_TernaryI8KernelOnly(benchmark::State& st) {
  const auto isa = kernels::Isa(st.range(0));
  if (!kernels::Supported(isa)) return st.SkipWithError("ISA not supported");
  Setup s = Make(st.range(1), st.range(2), st.range(3));
  kernels::QuantizedActs q;
  kernels::QuantizeActs(s.x.data(), s.m, s.k, s.k, &q);
  for (auto _ : st) {
    kernels::GemmI8(kernels::ForIsa(isa), s.w, q, s.y.data(), s.n);
    benchmark::DoNotOptimize(s.y.data());
  }
  Counters(st, s);
  st.SetLabel(kernels::IsaName(isa));
}

// Decode from DRAM: one row of X against a cycle of weight matrices far larger than the caches
// (the shape of Phi-3-mini's Up linear, 16384 x 3072 ternary: 12 MiB each), as in token-by-token
// decoding. "GB/s" counts weight bytes (codes + scales); compare with BM_StreamRead.
void BM_DecodeGemvDram(benchmark::State& st) {
  const auto isa = kernels::Isa(st.range(0));
  if (!kernels::Supported(isa)) return st.SkipWithError("ISA not supported");
  const int64_t n = st.range(1), k = st.range(2), copies = st.range(3);
  Setup s = Make(1, n, k);
  std::vector<kernels::PackedWeights> ws(size_t(copies), s.w);
  kernels::QuantizedActs q;
  kernels::QuantizeActs(s.x.data(), 1, k, k, &q);
  int64_t bytes = 0;
  for (const auto& w : ws) bytes += int64_t(w.codes.size() + w.scales.size() * sizeof(float));
  for (auto _ : st) {
    for (const auto& w : ws) kernels::GemmI8(kernels::ForIsa(isa), w, q, s.y.data(), n);
    benchmark::DoNotOptimize(s.y.data());
  }
  st.counters["GB/s"] = benchmark::Counter(double(bytes), benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
  st.SetLabel(kernels::IsaName(isa));
}

// The float GEMV of an F32 head read in place (Phi-3-mini's: 32064 × 3072, 376 MiB) from DRAM.
void BM_DecodeGemvF32Dram(benchmark::State& st) {
  const auto isa = kernels::Isa(st.range(0));
  if (!kernels::Supported(isa)) return st.SkipWithError("ISA not supported");
  const int64_t n = st.range(1), k = st.range(2);
  base::AlignedVector<float> w(size_t(n * k));
  std::vector<float> x(static_cast<size_t>(k)), y(static_cast<size_t>(n));
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i % 7) - 3) * 0.01f;
  for (int64_t i = 0; i < k; ++i) x[size_t(i)] = float(i % 5) * 0.1f;
  for (auto _ : st) {
    kernels::GemvF32(kernels::ForIsa(isa), w.data(), n, k, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GB/s"] = benchmark::Counter(double(n * k * 4), benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
  st.SetLabel(kernels::IsaName(isa));
}

// The streaming-read bandwidth that `t81 bench memory` reports, on the same threads (512 MiB).
void BM_StreamRead(benchmark::State& st) {
  double gbs = 0;
  for (auto _ : st) gbs = kernels::StreamReadBandwidth(int64_t(512) << 20, 3);
  st.counters["GB/s"] = gbs;
}

// Activation quantization alone (absmax per row, round, block sums): the int8 path's overhead.
void BM_QuantizeActs(benchmark::State& st) {
  const auto isa = kernels::Isa(st.range(0));
  if (!kernels::Supported(isa)) return st.SkipWithError("ISA not supported");
  Setup s = Make(st.range(1), 16, st.range(3));
  kernels::QuantizedActs q;
  for (auto _ : st) {
    kernels::QuantizeActs(kernels::ForIsa(isa), s.x.data(), s.m, s.k, s.k, &q);
    benchmark::DoNotOptimize(q.q.data());
  }
  st.counters["Gfloat/s"] = benchmark::Counter(double(s.m * s.k), benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
  st.SetLabel(kernels::IsaName(isa));
}

void BM_TernaryF32(benchmark::State& st) {
  const auto isa = kernels::Isa(st.range(0));
  if (!kernels::Supported(isa)) return st.SkipWithError("ISA not supported");
  Setup s = Make(st.range(1), st.range(2), st.range(3));
  for (auto _ : st) {
    kernels::GemmF32(kernels::ForIsa(isa), s.w, s.x.data(), s.m, s.k, s.y.data(), s.n);
    benchmark::DoNotOptimize(s.y.data());
  }
  Counters(st, s);
  st.SetLabel(kernels::IsaName(isa));
}

// The machine's own ceilings, measured in the same run as the kernels: 16 independent chains of
// one instruction (no loads), so throughput, not latency, limits. Reported as instructions per
// second; one VPDPBUSD zmm is 64 int8 MACs, one VFMADD231PS zmm 16 float FMAs.
#define T81_CHAINS(op, r)                                                                        \
  op " %%" r "30, %%" r "31, %%" r "0\n" op " %%" r "30, %%" r "31, %%" r "1\n"                     \
  op " %%" r "30, %%" r "31, %%" r "2\n" op " %%" r "30, %%" r "31, %%" r "3\n"                     \
  op " %%" r "30, %%" r "31, %%" r "4\n" op " %%" r "30, %%" r "31, %%" r "5\n"                     \
  op " %%" r "30, %%" r "31, %%" r "6\n" op " %%" r "30, %%" r "31, %%" r "7\n"                     \
  op " %%" r "30, %%" r "31, %%" r "8\n" op " %%" r "30, %%" r "31, %%" r "9\n"                     \
  op " %%" r "30, %%" r "31, %%" r "10\n" op " %%" r "30, %%" r "31, %%" r "11\n"                   \
  op " %%" r "30, %%" r "31, %%" r "12\n" op " %%" r "30, %%" r "31, %%" r "13\n"                   \
  op " %%" r "30, %%" r "31, %%" r "14\n" op " %%" r "30, %%" r "31, %%" r "15\n"
#define T81_CLOBBER "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
                    "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

// Chains start at 0 with operands 1.0f (or bytes 0x3f80...): never denormal, never NaN.
#define T81_ZERO16                                                                                \
  "vpxord %%zmm0, %%zmm0, %%zmm0\n vpxord %%zmm1, %%zmm1, %%zmm1\n vpxord %%zmm2, %%zmm2, %%zmm2\n" \
  "vpxord %%zmm3, %%zmm3, %%zmm3\n vpxord %%zmm4, %%zmm4, %%zmm4\n vpxord %%zmm5, %%zmm5, %%zmm5\n" \
  "vpxord %%zmm6, %%zmm6, %%zmm6\n vpxord %%zmm7, %%zmm7, %%zmm7\n vpxord %%zmm8, %%zmm8, %%zmm8\n" \
  "vpxord %%zmm9, %%zmm9, %%zmm9\n vpxord %%zmm10, %%zmm10, %%zmm10\n vpxord %%zmm11, %%zmm11, %%zmm11\n" \
  "vpxord %%zmm12, %%zmm12, %%zmm12\n vpxord %%zmm13, %%zmm13, %%zmm13\n vpxord %%zmm14, %%zmm14, %%zmm14\n" \
  "vpxord %%zmm15, %%zmm15, %%zmm15\n vbroadcastss %0, %%zmm30\n vbroadcastss %0, %%zmm31\n"

__attribute__((target("avx512f,avx512vnni"))) void PeakVnniLoop(int64_t n) {
  const float one = 1.0f;
  asm volatile(T81_ZERO16 ::"m"(one) : T81_CLOBBER, "xmm30", "xmm31");
  for (int64_t i = 0; i < n; ++i) asm volatile(T81_CHAINS("vpdpbusd", "zmm") ::: T81_CLOBBER);
}
__attribute__((target("avx512f"))) void PeakFma512Loop(int64_t n) {
  const float one = 1.0f;
  asm volatile(T81_ZERO16 ::"m"(one) : T81_CLOBBER, "xmm30", "xmm31");
  for (int64_t i = 0; i < n; ++i) asm volatile(T81_CHAINS("vfmadd231ps", "zmm") ::: T81_CLOBBER);
}

// The int8 GEMM micro-kernel's exact instruction mix with every load hitting L1: per step 4
// 64-byte loads, 6 broadcasts and 24 VPDPBUSD (docs/kernels.md) — the ceiling of that kernel
// shape on this core, as opposed to the bare VPDPBUSD ceiling.
#define T81_DP(a, b, c) "vpdpbusd %%zmm" #a ", %%zmm" #b ", %%zmm" #c "\n"
__attribute__((target("avx512f,avx512vnni"))) void PeakVnniMixLoop(int64_t n) {
  alignas(64) static uint8_t buf[24576];
  asm volatile("vpxord %%zmm4, %%zmm4, %%zmm4" ::: "xmm4");
  for (int64_t i = 0; i < n; ++i)
    asm volatile(
        "vmovdqa64 (%0), %%zmm0\n vmovdqa64 4096(%0), %%zmm1\n vmovdqa64 8192(%0), %%zmm2\n"
        "vmovdqa64 12288(%0), %%zmm3\n"
        "vpbroadcastd 16384(%0), %%zmm28\n" T81_DP(28, 0, 4) T81_DP(28, 1, 5) T81_DP(28, 2, 6) T81_DP(28, 3, 7)
        "vpbroadcastd 17408(%0), %%zmm29\n" T81_DP(29, 0, 8) T81_DP(29, 1, 9) T81_DP(29, 2, 10) T81_DP(29, 3, 11)
        "vpbroadcastd 18432(%0), %%zmm30\n" T81_DP(30, 0, 12) T81_DP(30, 1, 13) T81_DP(30, 2, 14) T81_DP(30, 3, 15)
        "vpbroadcastd 19456(%0), %%zmm31\n" T81_DP(31, 0, 16) T81_DP(31, 1, 17) T81_DP(31, 2, 18) T81_DP(31, 3, 19)
        "vpbroadcastd 20480(%0), %%zmm28\n" T81_DP(28, 0, 20) T81_DP(28, 1, 21) T81_DP(28, 2, 22) T81_DP(28, 3, 23)
        "vpbroadcastd 21504(%0), %%zmm29\n" T81_DP(29, 0, 24) T81_DP(29, 1, 25) T81_DP(29, 2, 26) T81_DP(29, 3, 27)
        ::"r"(buf)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
          "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",
          "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
}

void BM_PeakInstr(benchmark::State& st) {
  const int kind = int(st.range(0));  // 0: VPDPBUSD, 1: VFMADD231PS, 2: the int8 GEMM's mix
  if (!base::Cpu().avx512 || (kind != 1 && !base::Cpu().avx512vnni)) return st.SkipWithError("no AVX-512");
  constexpr int64_t kIters = 1 << 16;
  for (auto _ : st) kind == 1 ? PeakFma512Loop(kIters) : kind == 0 ? PeakVnniLoop(kIters) : PeakVnniMixLoop(kIters);
  const int per_iter = kind == 2 ? 24 : 16;  // VPDPBUSD (or FMA) per iteration
  st.counters["Ginstr/s"] = benchmark::Counter(double(per_iter * kIters), benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
  st.SetLabel(kind == 1 ? "vfmadd231ps zmm" : kind == 0 ? "vpdpbusd zmm" : "vpdpbusd zmm in the GEMM mix");
}

void BM_OpenBlas(benchmark::State& st) {
  Setup s = Make(st.range(1), st.range(2), st.range(3));
  for (auto _ : st) {
    if (s.m == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, int(s.n), int(s.k), 1.0f, s.wf.data(), int(s.k),
                  s.x.data(), 1, 0.0f, s.y.data(), 1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(s.m), int(s.n), int(s.k), 1.0f,
                  s.x.data(), int(s.k), s.wf.data(), int(s.k), 0.0f, s.y.data(), int(s.n));
    benchmark::DoNotOptimize(s.y.data());
  }
  Counters(st, s);
  st.SetLabel(s.m == 1 ? "sgemv" : "sgemm");
}

// A Linear layer's three training products at the default ViT step's shape (rows = 64 images × 17
// tokens, 256 → 1024): forward X·Wᵀ, dX = dY·W, dW += dYᵀ·X. Arg 0: OpenBLAS sgemm; 1: GemmBf16 (AMX).
void BM_TrainGemm(benchmark::State& st) {
  const bool bf16 = st.range(0) == 1;
  const int form = int(st.range(1));
  if (bf16 && !kernels::AmxBf16Supported()) return st.SkipWithError("no AMX-BF16");
  const int64_t rows = 1088, in = 256, out = 1024;
  base::Rng rng(7);
  auto filled = [&rng](int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = float(rng.Normal());
    return v;
  };
  const std::vector<float> x = filled(rows * in), w = filled(out * in), dy = filled(rows * out);
  std::vector<float> c(size_t(std::max(rows * out, std::max(rows * in, out * in))), 0.0f);
  // (trans_a, trans_b, M, N, K, A, lda, B, ldb, beta) of each form
  const bool ta = form == 2, tb = form == 0;
  const int64_t M = form == 2 ? out : rows, N = form == 0 ? out : in, K = form == 0 ? in : form == 1 ? out : rows;
  const float* A = form == 0 ? x.data() : dy.data();
  const float* B = form == 0 ? w.data() : form == 1 ? w.data() : x.data();
  const int64_t lda = form == 0 ? in : out, ldb = in;
  const float beta = form == 0 ? 0.0f : 1.0f;
  for (auto _ : st) {
    if (bf16)
      kernels::GemmBf16(ta, tb, M, N, K, A, lda, B, ldb, beta, c.data(), N);
    else
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(M), int(N), int(K),
                  1.0f, A, int(lda), B, int(ldb), beta, c.data(), int(N));
    benchmark::DoNotOptimize(c.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(M * N * K), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
  static const char* kForms[] = {"forward X·W^T", "dX = dY·W", "dW += dY^T·X"};
  st.SetLabel(std::string(bf16 ? "bf16 AMX, " : "OpenBLAS sgemm, ") + kForms[form]);
}

void Isas(benchmark::internal::Benchmark* b) {
  for (kernels::Isa isa : kernels::kAllIsas) {
    b->Args({int(isa), 1, 4096, 4096});
    b->Args({int(isa), 1024, 1024, 1024});
    b->Args({int(isa), 128, 512, 784});
    b->Args({int(isa), 1576, 3072, 768});  // ViT-B/16's fc1 for 8 images (8 × 197 rows)
  }
}
void Blas(benchmark::internal::Benchmark* b) {
  b->Args({0, 1, 4096, 4096});
  b->Args({0, 1024, 1024, 1024});
  b->Args({0, 128, 512, 784});
  b->Args({0, 1576, 3072, 768});
}

BENCHMARK(BM_TernaryI8)->Apply(Isas)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_TernaryI8KernelOnly)->Apply(Isas)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_QuantizeActs)->Apply(Isas)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_TernaryF32)->Apply(Isas)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_PeakInstr)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_DecodeGemvDram)
    ->Args({0, 16384, 3072, 20})
    ->Args({1, 16384, 3072, 20})
    ->Args({2, 16384, 3072, 20})
    ->Args({2, 1024, 3072, 1})  // 0.8 MiB: from L2, the kernel's compute limit
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_DecodeGemvF32Dram)->Args({1, 32064, 3072})->Args({2, 32064, 3072})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_StreamRead)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_OpenBlas)->Apply(Blas)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_TrainGemm)->ArgsProduct({{0, 1}, {0, 1, 2}})->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace t81

int main(int argc, char** argv) {
  const char* env = std::getenv("T81_THREADS");
  t81::base::SetNumThreads(env ? std::max(1, std::atoi(env)) : 1);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
