// Google Benchmark microbenchmarks: ternary GEMV/GEMM per ISA and activation path, with OpenBLAS
// sgemv/sgemm on the same shapes in the same binary. Threads: --benchmark args set none; the
// process uses T81 default (1 thread) unless T81_THREADS is set.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdlib>
#include <vector>

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

void Isas(benchmark::internal::Benchmark* b) {
  for (int isa = 0; isa < 3; ++isa) {
    b->Args({isa, 1, 4096, 4096});
    b->Args({isa, 1024, 1024, 1024});
    b->Args({isa, 128, 512, 784});
  }
}
void Blas(benchmark::internal::Benchmark* b) {
  b->Args({0, 1, 4096, 4096});
  b->Args({0, 1024, 1024, 1024});
  b->Args({0, 128, 512, 784});
}

BENCHMARK(BM_TernaryI8)->Apply(Isas)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_TernaryI8KernelOnly)->Apply(Isas)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_QuantizeActs)->Apply(Isas)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_TernaryF32)->Apply(Isas)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_OpenBlas)->Apply(Blas)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace t81

int main(int argc, char** argv) {
  const char* env = std::getenv("T81_THREADS");
  t81::base::SetNumThreads(env ? std::max(1, std::atoi(env)) : 1);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
