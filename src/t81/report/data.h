// What the report reads: each benchmark's results as the benchmark programs wrote them, plus the
// run they came from. Readers never re-run anything; a file that is missing, empty or malformed
// becomes a Problem (one line naming it) and the rest is still read.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace t81::report {

// Where and how a result was measured ("" / 0: the file does not record it).
struct RunMeta {
  std::string source;  // the file, as found under --in
  std::string timestamp, git_revision, cpu_model, isa;
  int threads = 0;
};

struct Problem {
  std::string file, what;  // shown as "file: what"
};

// Benchmark 1 (quantization_runs.csv): one row per mode and run.
struct FashionRow {
  std::string model, mode;
  double accuracy = NAN, loss = NAN, latency_s = NAN;
  double bytes = NAN;
  RunMeta meta;
};

// A training curve: train_log.csv of `t81 train lm`, or bench lm's QAT losses.
struct LossCurve {
  std::string name;
  std::vector<double> step, train_loss, val_loss;  // val_loss NAN where not evaluated
  RunMeta meta;
};

// Benchmark 2 (lm_*.json of `t81 bench lm`): one stage is baseline, ptq or qat.
struct LmStage {
  std::string name;
  double size_bytes = NAN, ppl = NAN, tok_s = NAN, prompt_tok_s = NAN, decode_tok_s = NAN;
};
struct LmRun {
  std::string name, model_id, dataset;
  std::vector<LmStage> stages;
  RunMeta meta;
};

// Benchmark 2's format table (lm_formats.md of scripts/bench-lm-formats.sh).
struct FormatRow {
  std::string file, what;
  double mib = NAN, llama_ppl = NAN, t81_ppl = NAN;
};
struct LmFormats {
  std::vector<FormatRow> rows;
  std::string note;  // the script's trailing line (tokens, threads, date, revision)
  RunMeta meta;
};

// Benchmark 3 (vit_*.json, the seed's keys): accuracy, loss, size and images/s per stage.
struct VitStage {
  std::string name;
  double size_gib = NAN, accuracy = NAN, loss = NAN, images_s = NAN;
};
struct VitRun {
  std::string name, model_id, dataset;
  std::vector<VitStage> stages;
  RunMeta meta;
};

// Benchmark 4 (gguf_*.json of `t81 bench gguf`): per engine, medians and per-run ranges.
struct EngineSpeed {
  double decode_tok_s = NAN, decode_lo = NAN, decode_hi = NAN;
  double prompt_tok_s = NAN, prompt_lo = NAN, prompt_hi = NAN;
  double peak_rss_mib = NAN;
};
struct GgufRun {
  std::string name, arch;
  double size_mib = NAN, speedup = NAN, speedup_lo = NAN, speedup_hi = NAN;
  EngineSpeed t81, llama;
  RunMeta meta;
};

// Benchmark 5 (gemm.json of `t81 bench gemm`): GFLOP/s per kernel, with the range over rounds.
struct KernelSpeed {
  std::string kernel;
  double gflops = NAN, lo = NAN, hi = NAN, median_s = NAN;
};
struct GemmShape {
  std::string name;  // "GEMM 1024x1024x1024"
  std::vector<KernelSpeed> kernels;
  double speedup = NAN, speedup_lo = NAN, speedup_hi = NAN;
};
struct GemmRun {
  std::vector<GemmShape> shapes;
  RunMeta meta;
};

struct BenchData {
  std::vector<FashionRow> fashion;  // in file order (oldest first)
  std::vector<LossCurve> curves;
  std::vector<LmRun> lm;
  std::vector<LmFormats> formats;
  std::vector<VitRun> vit;
  std::vector<GgufRun> gguf;
  std::vector<GemmRun> gemm;
  std::vector<Problem> problems;
};

// Reads every benchmark file under dir (the layout scripts/bench.sh writes). Files are visited
// in sorted order, so the same folder gives the same data.
BenchData ReadBenchmarks(const std::string& dir);

}  // namespace t81::report
