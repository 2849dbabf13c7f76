// t81 bench gemm: the seed's benchmark 5, done right. Checks the ternary product against a float
// reference, then times OpenBLAS sgemm/sgemv against t81's f32- and int8-activation kernels on the
// same shapes, in the same process, with the same thread count (medians of paired rounds).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "t81/base/cpu.h"
#include "t81/base/rng.h"
#include "t81/base/threads.h"
#include "t81/base/timer.h"
#include "t81/cli/commands.h"
#include "t81/cli/common.h"
#include "t81/cli/run_info.h"
#include "t81/kernels/kernels.h"

namespace t81::cli {
namespace {

struct GemmFlags {
  int64_t m = 1024, n = 1024, k = 1024;
  int64_t gemv_n = 4096, gemv_k = 4096;
  float threshold = quant::kDefaultThreshold;
  std::string granularity = "row";
  int threads = 0;
  int repeats = 10;
  uint64_t seed = 0;
  std::string json_output;
};

struct Row {
  std::string name;
  double median_s;
  int64_t weight_bytes;
};

struct Problem {
  int64_t m, n, k;
  std::vector<float> wf;  // (n, k) dequantized ternary weights, the float competitor's input
  quant::TernaryMatrix tm;
  kernels::PackedWeights w;
  std::vector<float> x, y;  // (m, k), (m, n)
};

Problem Make(int64_t m, int64_t n, int64_t k, const GemmFlags& f, quant::Granularity g) {
  Problem p{m, n, k, {}, {}, {}, {}, {}};
  base::Rng rng(f.seed);
  std::vector<float> w(size_t(n * k));
  for (float& v : w) v = float(rng.Normal());
  p.tm = quant::QuantizeMatrix(w.data(), n, k, g, f.threshold, quant::TqFormat::kTq2_0);
  p.w = kernels::Repack(p.tm);
  p.wf.resize(w.size());
  quant::Dequantize(p.tm, p.wf.data());
  p.x.resize(size_t(m * k));
  for (float& v : p.x) v = float(rng.Normal());
  p.y.assign(size_t(m * n), 0.0f);
  return p;
}

void Blas(Problem& p) {
  if (p.m == 1)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, int(p.n), int(p.k), 1.0f, p.wf.data(), int(p.k),
                p.x.data(), 1, 0.0f, p.y.data(), 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(p.m), int(p.n), int(p.k), 1.0f,
                p.x.data(), int(p.k), p.wf.data(), int(p.k), 0.0f, p.y.data(), int(p.n));
}

// Checks both t81 paths against OpenBLAS on the dequantized weights. f32: relative error bound
// from K float additions; int8: plus half an activation step per element.
Status Check(Problem& p, const kernels::KernelTable& kt) {
  Blas(p);
  const std::vector<float> ref = p.y;
  std::vector<float> yf(ref.size()), yi(ref.size());
  kernels::GemmF32(kt, p.w, p.x.data(), p.m, p.k, yf.data(), p.n);
  kernels::QuantizedActs q;
  kernels::QuantizeActs(kt, p.x.data(), p.m, p.k, p.k, &q);
  kernels::GemmI8(kt, p.w, q, yi.data(), p.n);
  for (int64_t i = 0; i < p.m; ++i) {
    float amax = 0;
    for (int64_t j = 0; j < p.k; ++j) amax = std::max(amax, std::fabs(p.x[size_t(i * p.k + j)]));
    for (int64_t o = 0; o < p.n; ++o) {
      double wabs = 0, mag = 0;
      for (int64_t j = 0; j < p.k; ++j) {
        wabs += std::fabs(p.wf[size_t(o * p.k + j)]);
        mag += std::fabs(double(p.wf[size_t(o * p.k + j)]) * p.x[size_t(i * p.k + j)]);
      }
      const double r = ref[size_t(i * p.n + o)];
      const double tol_f = 4.0 * double(p.k) * 6e-8 * mag + 1e-5;
      const double tol_i = wabs * amax / 254.0 + tol_f;
      const double ef = std::fabs(yf[size_t(i * p.n + o)] - r), ei = std::fabs(yi[size_t(i * p.n + o)] - r);
      if (!(ef <= tol_f) || !(ei <= tol_i)) {
        char buf[256];
        std::snprintf(buf, sizeof(buf),
                      "ternary GEMM check failed at (%lld, %lld): reference %g, f32 %g, int8 %g",
                      (long long)i, (long long)o, r, yf[size_t(i * p.n + o)], yi[size_t(i * p.n + o)]);
        return Error(buf);
      }
    }
  }
  return OkStatus();
}

// Times the contenders in `rounds` paired rounds. In each round every contender (in an order that
// rotates from round to round) runs after a pause that lets the other library's worker threads stop
// spinning (OpenBLAS and OpenMP both busy-wait after a call and would otherwise steal the cores
// from whoever runs next), one warm-up call, then enough back-to-back calls to fill ~20 ms; the
// round's time is their mean. Pairing matters on a shared machine: the host's noise drifts over
// seconds, so ratios are taken within a round and their median reported.
// Returns times[contender][round].
std::vector<std::vector<double>> TimeRounds(const std::vector<std::function<void()>>& fns, int rounds) {
  std::vector<std::vector<double>> t(fns.size());
  std::vector<int> calls(fns.size(), 0);
  for (int r = 0; r < rounds; ++r)
    for (size_t o = 0; o < fns.size(); ++o) {
      const size_t i = (o + size_t(r)) % fns.size();
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      fns[i]();  // warm-up
      if (calls[i] == 0) {  // first round: size the round from one warm call
        const double w0 = base::NowSeconds();
        fns[i]();
        calls[i] = int(std::clamp(0.02 / std::max(base::NowSeconds() - w0, 1e-7), 1.0, 1000.0));
      }
      const double t0 = base::NowSeconds();
      for (int k = 0; k < calls[i]; ++k) fns[i]();
      t[i].push_back((base::NowSeconds() - t0) / calls[i]);
    }
  return t;
}

// speedup: best t81 path / OpenBLAS over the paired rounds.
nlohmann::json RunShape(Problem& p, const kernels::KernelTable& kt, int repeats, RatioStats* speedup,
                        const char* blas_name) {
  kernels::QuantizedActs q;
  std::vector<std::function<void()>> fns = {
      [&] { Blas(p); },
      [&] { kernels::GemmF32(kt, p.w, p.x.data(), p.m, p.k, p.y.data(), p.n); },
      [&] {
        kernels::QuantizeActs(kt, p.x.data(), p.m, p.k, p.k, &q);
        kernels::GemmI8(kt, p.w, q, p.y.data(), p.n);
      }};
  const std::vector<std::vector<double>> times = TimeRounds(fns, repeats);
  std::vector<double> med, best_t81;
  for (const auto& v : times) med.push_back(base::Median(v));
  for (int r = 0; r < repeats; ++r) best_t81.push_back(std::min(times[1][r], times[2][r]));
  const std::vector<Row> rows = {{std::string("openblas_") + blas_name, med[0], p.n * p.k * 4},
                                 {"t81_f32", med[1], p.tm.bytes()},
                                 {"t81_int8", med[2], p.tm.bytes()}};
  T81_CHECK(rows.size() == times.size());
  const double flops = 2.0 * double(p.m) * double(p.n) * double(p.k);
  std::printf("%-16s %14s %12s %14s %12s\n", "kernel", "median_s", "GFLOP/s", "weight_bytes", "weight_GB/s");
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::printf("%-16s %14.6f %12.1f %14lld %12.2f\n", r.name.c_str(), r.median_s, flops / r.median_s * 1e-9,
                (long long)r.weight_bytes, double(r.weight_bytes) / r.median_s * 1e-9);
    // Every round's time is kept, so a chart can show the spread behind the median.
    const auto [fast, slow] = std::minmax_element(times[i].begin(), times[i].end());
    out.push_back({{"kernel", r.name},
                   {"median_s", r.median_s},
                   {"gflops", flops / r.median_s * 1e-9},
                   {"gflops_range", {flops / *slow * 1e-9, flops / *fast * 1e-9}},
                   {"round_s", times[i]},
                   {"weight_bytes", r.weight_bytes},
                   {"weight_gbps", double(r.weight_bytes) / r.median_s * 1e-9}});
  }
  *speedup = PairedRatios(times[0], best_t81);
  std::printf("best t81 / %s speed-up: %.2fx (median of %d paired rounds, range %.2f-%.2fx)\n",
              blas_name, speedup->median, repeats, speedup->min, speedup->max);
  return out;
}

Status RunGemm(const GemmFlags& f) {
  for (auto [v, name] : {std::pair{f.m, "--m"}, {f.n, "--n"}, {f.k, "--k"}, {f.gemv_n, "--gemv-n"}, {f.gemv_k, "--gemv-k"}})
    if (v <= 0) return Error(std::string(name) + " must be positive (got " + std::to_string(v) + ")");
  if (!(f.threshold > 0) || !std::isfinite(f.threshold)) return Error("--threshold must be positive");
  if (f.repeats <= 0) return Error("--repeats must be positive");
  if (f.threads < 0) return Error("--threads must be positive");
  T81_ASSIGN_OR_RETURN(quant::Granularity g, quant::ParseGranularity(f.granularity));
  const int threads = f.threads > 0 ? f.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  base::SetNumThreads(threads);
  const kernels::KernelTable& kt = kernels::Active();

  Problem gemm = Make(f.m, f.n, f.k, f, g);
  T81_RETURN_IF_ERROR(Check(gemm, kt));
  std::printf("gemm_ternary OK (%lld, %lld)\n", (long long)f.m, (long long)f.n);
  std::printf("threads %d, kernels %s, medians of %d paired rounds\n\n", threads, kernels::IsaName(kt.isa), f.repeats);
  std::printf("GEMM %lld x %lld x %lld (M x N x K), Y = X * W^T\n", (long long)f.m, (long long)f.n, (long long)f.k);
  RatioStats gemm_speedup, gemv_speedup;
  nlohmann::json gemm_rows = RunShape(gemm, kt, f.repeats, &gemm_speedup, "sgemm");
  gemm = Problem{};

  Problem gemv = Make(1, f.gemv_n, f.gemv_k, f, g);
  T81_RETURN_IF_ERROR(Check(gemv, kt));
  std::printf("\nGEMV 1 x %lld x %lld\n", (long long)f.gemv_n, (long long)f.gemv_k);
  nlohmann::json gemv_rows = RunShape(gemv, kt, f.repeats, &gemv_speedup, "sgemv");

  if (!f.json_output.empty()) {
    nlohmann::json j = {{"threshold", f.threshold},
                        {"granularity", f.granularity},
                        {"weight_format", "tq2_0"},
                        {"repeats", f.repeats},
                        {"gemm", {{"m", f.m}, {"n", f.n}, {"k", f.k}, {"rows", gemm_rows}}},
                        {"gemv", {{"m", 1}, {"n", f.gemv_n}, {"k", f.gemv_k}, {"rows", gemv_rows}}},
                        {"gemm_speedup_vs_sgemm", gemm_speedup.median},
                        {"gemm_speedup_range", {gemm_speedup.min, gemm_speedup.max}},
                        {"gemv_speedup_vs_sgemv", gemv_speedup.median},
                        {"gemv_speedup_range", {gemv_speedup.min, gemv_speedup.max}}};
    AddRunInfo(j, threads, kernels::IsaName(kt.isa));
    T81_RETURN_IF_ERROR(WriteFileAtomic(f.json_output, j.dump(2) + "\n"));
    std::printf("\nwrote %s\n", f.json_output.c_str());
  }
  return OkStatus();
}

}  // namespace

void AddBenchGemm(CLI::App& bench, Runner* run) {
  auto f = std::make_shared<GemmFlags>();
  CLI::App* c = bench.add_subcommand("gemm", "benchmark 5: packed ternary GEMM/GEMV vs OpenBLAS");
  c->add_option("--m", f->m, "rows of X and Y")->capture_default_str();
  c->add_option("--n", f->n, "rows of W (outputs)")->capture_default_str();
  c->add_option("--k", f->k, "row length of X and W")->capture_default_str();
  c->add_option("--gemv-n", f->gemv_n, "GEMV rows of W")->capture_default_str();
  c->add_option("--gemv-k", f->gemv_k, "GEMV row length")->capture_default_str();
  c->add_option("--threshold", f->threshold, "ternary threshold")->capture_default_str();
  c->add_option("--granularity", f->granularity, "tensor | row | block")->capture_default_str();
  c->add_option("--threads", f->threads, "threads for every contender (default: all cores)");
  c->add_option("--repeats", f->repeats, "paired rounds (each: every contender, ~20 ms of calls)")->capture_default_str();
  c->add_option("--seed", f->seed, "seed for W and X")->capture_default_str();
  c->add_option("--json-output", f->json_output, "write every row and the speed-ups as JSON");
  c->callback([f, run] { *run = [f] { return RunGemm(*f); }; });
}

}  // namespace t81::cli
