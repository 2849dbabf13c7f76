// Small benchmark files, in the formats the benchmark commands write, for the t81 report tests:
// two appended runs of benchmark 1, a train lm log, a bench lm JSON, a bench gguf JSON and a
// bench gemm JSON, with round numbers so the page's axes and bars can be checked by hand.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace t81::testing {

inline void WriteText(const std::filesystem::path& p, const std::string& s) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

// Fills dir (created fresh) with the golden benchmark files.
inline void WriteGoldenBenchmarks(const std::filesystem::path& dir) {
  std::filesystem::remove_all(dir);
  const std::string hdr =
      "mode,accuracy,loss,latency_s,bytes,model,threshold,granularity,format,activations,seed,fp32_epochs,qat_epochs,"
      "batch_size,lr,train_s,threads,isa,timestamp,git_revision,cpu_model\n";
  const std::string old_run = "2026-01-01T00:00:00Z,aaaa1111,\"Test CPU, 2 cores\"";
  const std::string new_run = "2026-02-01T00:00:00Z,bbbb2222,\"Test CPU, 2 cores\"";
  WriteText(dir / "quantization_runs.csv",
            hdr +
                "fp32,0.8111,0.5,0.0001,31400,linear,0.45,block,tq2_0,f32,0,3,3,128,0.03,1.0,2,openblas," + old_run + "\n" +
                "ptq,0.7111,0.7,0.00004,2680,linear,0.45,block,tq2_0,auto,0,3,3,128,0.03,0.1,2,avx512," + old_run + "\n" +
                "qat,0.8011,0.5,0.00004,2680,linear,0.45,block,tq2_0,auto,0,3,3,128,0.01,1.0,2,avx512," + old_run + "\n" +
                "fp32,0.8443,0.441,0.00011,31400,linear,0.45,block,tq2_0,f32,0,3,3,128,0.03,1.0,2,openblas," + new_run + "\n" +
                "ptq,0.74,0.6965,0.000042,2680,linear,0.45,block,tq2_0,auto,0,3,3,128,0.03,0.1,2,avx512," + new_run + "\n" +
                "qat,0.8409,0.4495,0.000044,2680,linear,0.45,block,tq2_0,auto,0,3,3,128,0.01,1.0,2,avx512," + new_run + "\n" +
                "fp32,0.8827,0.3254,0.0014,2143272,mlp,0.45,block,tq2_0,f32,0,3,3,128,0.1,10.0,2,openblas," + new_run + "\n" +
                "qat,0.8812,0.3292,0.0005,172732,mlp,0.45,block,tq2_0,auto,0,3,3,128,0.01,10.0,2,avx512," + new_run + "\n");
  WriteText(dir / "models/tiny-lm/train_log.csv",
            "step,tokens,train_loss,val_loss,val_ppl,lr,lambda,tokens_per_s,elapsed_s\n"
            "100,1000,6.0,5.5,244.7,0.002,0,900,10\n200,2000,5.0,4.75,115.6,0.001,0,900,20\n"
            "300,3000,4.5,4.5,90.0,0.0002,0,900,30\n");
  WriteText(dir / "models/tiny-lm/train_run.json",
            R"({"log": "train_log.csv", "step": 300, "steps": 300, "timestamp": "2026-01-15T00:00:00Z",
                "git_revision": "cccc3333", "cpu_model": "Test CPU", "isa": "avx2", "threads": 2})");
  WriteText(dir / "lm_tiny.json", R"({"model_id": "benchmarks/models/tiny-lm", "dataset": "sotu",
    "baseline": {"size_gib": 0.0625, "ppl": 90.0, "tok_s": 50.0},
    "ptq": {"size_gib": 0.015625, "ppl": 180.0, "tok_s": 120.0},
    "qat": {"size_gib": 0.015625, "ppl": 120.0, "tok_s": 110.0},
    "stages": {"baseline": {"size_bytes": 67108864, "prompt_tok_s": 400.0, "decode_tok_s": 60.0, "seconds": 1},
               "ptq": {"size_bytes": 16777216, "prompt_tok_s": 900.0, "decode_tok_s": 150.0, "seconds": 1},
               "qat": {"size_bytes": 16777216, "prompt_tok_s": 880.0, "decode_tok_s": 140.0, "seconds": 1}},
    "qat_losses": [5.0, 4.8, 4.6, 4.5, 4.45],
    "threads": 2, "timestamp": "2026-02-02T00:00:00Z", "git_revision": "bbbb2222", "cpu_model": "Test CPU", "isa": "avx512"})");
  WriteText(dir / "gguf_tiny-tq2_0.json", R"({"gguf": "benchmarks/models/tiny-tq2_0.gguf", "size_mib": 12.5, "arch": "llama",
    "llama": {"peak_rss_mib": 200.0, "prompt_ms_per_token": 2.0, "eval_ms_per_token": 20.0, "eval_tok_s": 50.0,
              "eval_ms_per_token_runs": [20.0, 25.0, 16.0], "prompt_ms_per_token_runs": [2.0, 2.5, 1.6]},
    "t81": {"peak_rss_mib": 150.0, "prompt_ms_per_token": 1.0, "eval_ms_per_token": 10.0, "eval_tok_s": 100.0,
            "eval_ms_per_token_runs": [10.0, 12.5, 8.0], "prompt_ms_per_token_runs": [1.0, 1.25, 0.8]},
    "eval_speedup": 2.0, "eval_speedup_range": [1.6, 2.5],
    "threads": 2, "timestamp": "2026-02-03T00:00:00Z", "git_revision": "bbbb2222", "cpu_model": "Test CPU", "isa": "avx512"})");
  WriteText(dir / "gemm.json", R"({"threshold": 0.45, "granularity": "row", "weight_format": "tq2_0", "repeats": 3,
    "gemm": {"m": 1024, "n": 1024, "k": 1024, "rows": [
      {"kernel": "openblas_sgemm", "median_s": 0.02, "gflops": 100.0, "gflops_range": [80.0, 120.0], "round_s": [0.02, 0.025, 0.0166], "weight_bytes": 4194304},
      {"kernel": "t81_f32", "median_s": 0.022, "gflops": 90.0, "gflops_range": [85.0, 95.0], "round_s": [0.022], "weight_bytes": 270336},
      {"kernel": "t81_int8", "median_s": 0.006, "gflops": 300.0, "gflops_range": [250.0, 350.0], "round_s": [0.006], "weight_bytes": 270336}]},
    "gemv": {"m": 1, "n": 4096, "k": 4096, "rows": [
      {"kernel": "openblas_sgemv", "median_s": 0.003, "gflops": 10.0, "weight_bytes": 67108864},
      {"kernel": "t81_f32", "median_s": 0.0015, "gflops": 20.0, "weight_bytes": 4325376},
      {"kernel": "t81_int8", "median_s": 0.0002, "gflops": 160.0, "weight_bytes": 4325376}]},
    "gemm_speedup_vs_sgemm": 3.0, "gemm_speedup_range": [2.5, 3.5], "gemv_speedup_vs_sgemv": 16.0, "gemv_speedup_range": [6.0, 23.0],
    "threads": 2, "timestamp": "2026-02-04T00:00:00Z", "git_revision": "bbbb2222", "cpu_model": "Test CPU", "isa": "avx512"})");
}

}  // namespace t81::testing
