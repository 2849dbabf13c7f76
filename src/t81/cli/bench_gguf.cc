// t81 bench gguf: the seed's gguf_benchmark. One GGUF file, two engines, same thread count:
// llama.cpp (through --llama-cli, parsing its timing lines, or through tools/peer/t81_peer on the
// npm node-llama-cpp libraries) and t81's own engine (packed ternary kernels). Reports file size,
// peak RSS, prompt and eval ms/token (medians of --runs, the engines alternating run by run) and
// the decode speed ratio (median of the per-pair ratios).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "t81/base/process.h"
#include "t81/base/threads.h"
#include "t81/base/timer.h"
#include "t81/cli/commands.h"
#include "t81/cli/common.h"
#include "t81/cli/run_info.h"
#include "t81/io/gguf.h"
#include "t81/io/llama_log.h"
#include "t81/kernels/kernels.h"
#include "t81/models/decoder.h"

#ifndef T81_DEFAULT_PEER
#define T81_DEFAULT_PEER ""
#endif
#ifndef T81_DEFAULT_PEER_BINS
#define T81_DEFAULT_PEER_BINS ""
#endif

namespace t81::cli {
namespace {

struct GgufBenchFlags {
  std::string gguf, llama_cli, peer = T81_DEFAULT_PEER, peer_bins = T81_DEFAULT_PEER_BINS, json_output;
  int n_predict = 128, threads = 0, runs = 5, prompt_tokens = 32;
};

struct Side {
  std::vector<double> prompt_ms, eval_ms;  // per token, per run
  double peak_rss_mib = 0;
};

// Runs argv (base::RunChild): the exit code, with its output and peak RSS.
Result<int> RunChild(const std::vector<std::string>& argv, std::string* out, double* rss_mib) {
  T81_ASSIGN_OR_RETURN(base::ChildResult r, base::RunChild(argv));
  *out = std::move(r.out);
  *rss_mib = r.peak_rss_mib;
  return r.rc;
}

// One llama.cpp generation; its peak RSS is kept only if record_rss (the first run, before this
// process loads the model: a spawned child's peak RSS can start from its parent's on Linux).
Status RunLlama(const GgufBenchFlags& f, int threads, const std::vector<int64_t>& prompt, Side* side, bool record_rss) {
  std::string ids;
  for (size_t i = 0; i < prompt.size(); ++i) ids += (i ? "," : "") + std::to_string(prompt[i]);
  {
    std::vector<std::string> argv;
    if (!f.llama_cli.empty()) {
      argv = {f.llama_cli, "-m", f.gguf, "-n", std::to_string(f.n_predict), "-t", std::to_string(threads), "-p",
              "The quick brown fox jumps over the lazy dog", "--temp", "0", "-no-cnv", "--ignore-eos"};
    } else {
      if (f.peer.empty() || !std::filesystem::exists(f.peer))
        return Error("no llama.cpp to compare with: pass --llama-cli PATH, or install the peer (scripts/peer/install.sh) and rebuild");
      argv = {f.peer, f.peer_bins, f.gguf, "--ids", ids, "--gen", std::to_string(f.n_predict), "--threads", std::to_string(threads),
              "--runs", "1"};
    }
    std::string out;
    double rss = 0;
    T81_ASSIGN_OR_RETURN(int rc, RunChild(argv, &out, &rss));
    if (rc != 0) return Error(argv[0] + " failed (exit " + std::to_string(rc) + "): " + out.substr(0, 300));
    double pms = 0, ems = 0;
    if (!f.llama_cli.empty()) {
      if (!io::ParseLlamaTimings(out, &pms, &ems)) return Error(f.llama_cli + ": no timing lines found in its output");
    } else {
      std::smatch m;
      static const std::regex kRun(R"(prompt_ms ([0-9.]+) eval_ms_per_token ([0-9.]+))");
      if (!std::regex_search(out, m, kRun)) return Error(f.peer + ": unexpected output: " + out.substr(0, 300));
      pms = std::strtod(m[1].str().c_str(), nullptr) / double(prompt.size());
      ems = std::strtod(m[2].str().c_str(), nullptr);
    }
    side->prompt_ms.push_back(pms);
    side->eval_ms.push_back(ems);
    if (record_rss) side->peak_rss_mib = std::max(side->peak_rss_mib, rss);
  }
  return OkStatus();
}

nlohmann::json SideJson(const Side& s) {
  const double e = base::Median(s.eval_ms);
  return {{"peak_rss_mib", s.peak_rss_mib},
          {"prompt_ms_per_token", base::Median(s.prompt_ms)},
          {"eval_ms_per_token", e},
          {"eval_tok_s", 1000.0 / e},
          {"eval_ms_per_token_runs", s.eval_ms},
          {"prompt_ms_per_token_runs", s.prompt_ms}};
}

Status RunGgufBench(const GgufBenchFlags& f) {
  if (f.n_predict <= 0 || f.runs <= 0 || f.prompt_tokens <= 0) return Error("--n-predict, --runs and --prompt-tokens must be positive");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(f.gguf, ec)) return Error(f.gguf + ": file not found");
  const int threads = f.threads > 0 ? f.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  base::SetNumThreads(threads);
  int64_t vocab = 0, ctx = 0;
  {  // header only: llama.cpp runs first, while this process is still small (a spawned child's
     // peak RSS starts from its parent's on Linux)
    T81_ASSIGN_OR_RETURN(auto gf, io::GgufFile::Open(f.gguf));
    const io::GgufTensor* emb = gf->FindTensor("token_embd.weight");
    const io::GgufValue* arch = gf->Find("general.architecture");
    const io::GgufValue* cl = arch ? gf->Find(arch->s + ".context_length") : nullptr;
    if (!emb || emb->ne.size() != 2 || !cl) return Error(f.gguf + ": not a llama.cpp language model (no token_embd.weight or context_length)");
    vocab = emb->ne[1];
    ctx = cl->i;
  }
  if (f.prompt_tokens + f.n_predict + 1 > ctx)
    return Error("--prompt-tokens + --n-predict + 1 exceed the model's context of " + std::to_string(ctx));
  std::vector<int64_t> prompt;
  for (int i = 0; i < f.prompt_tokens; ++i) prompt.push_back((int64_t(i) * 7 + 1) % vocab);
  Side t81, llama;
  T81_RETURN_IF_ERROR(RunLlama(f, threads, prompt, &llama, /*record_rss=*/true));
  T81_ASSIGN_OR_RETURN(auto model, models::DecoderLM::LoadGguf(f.gguf));
  const auto& c = model->config();
  // Paired runs: llama.cpp, t81, llama.cpp, t81, ... (llama.cpp's first run above is run 1), so
  // that the host's drift over seconds hits both engines alike; the speed-up is the median of the
  // per-pair ratios. A pause before each llama.cpp run lets this process's worker threads
  // (OpenMP, OpenBLAS) stop spinning. t81 warms up once.
  T81_RETURN_IF_ERROR(model->Generate(prompt, 4).status());
  std::vector<double> bandwidth_gbs;
  for (int r = 0; r < f.runs; ++r) {
    if (r > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      T81_RETURN_IF_ERROR(RunLlama(f, threads, prompt, &llama, /*record_rss=*/false));
    }
    models::DecoderLM::GenTiming tm;
    // n_predict + 1 tokens: the first comes from the prompt pass, the other n_predict from
    // n_predict single-token passes — the passes llama.cpp's side times (--gen N: N decodes).
    T81_RETURN_IF_ERROR(model->Generate(prompt, f.n_predict + 1, &tm).status());
    t81.prompt_ms.push_back(tm.prompt_s * 1000.0 / double(prompt.size()));
    t81.eval_ms.push_back(tm.eval_s * 1000.0 / double(f.n_predict));
    // The memory-bandwidth limit of this moment (the host's bandwidth drifts like its speed):
    // a streaming read right after each t81 run, on the same threads.
    // In a child process (t81 bench memory), so that its buffer does not count in t81's peak RSS.
    {
      std::string out;
      double rss = 0;
      const std::vector<std::string> argv = {"/proc/self/exe", "bench", "memory", "--threads", std::to_string(threads),
                                             "--passes", "3"};
      T81_ASSIGN_OR_RETURN(int rc, RunChild(argv, &out, &rss));
      const size_t at = out.find("read_bandwidth_gbs ");
      if (rc != 0 || at == std::string::npos) return Error("t81 bench memory failed: " + out.substr(0, 200));
      bandwidth_gbs.push_back(std::strtod(out.c_str() + at + 19, nullptr));
    }
    std::fprintf(stderr, "[t81] run %d/%d: eval %.3f ms/token\n", r + 1, f.runs, t81.eval_ms.back());
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  t81.peak_rss_mib = double(ru.ru_maxrss) / 1024.0;
  // The memory-bandwidth limit: what t81 reads per decoded token (weights, and the KV cache at the
  // mean context of the timed tokens) against the streaming read bandwidth measured after each
  // run; the fraction is the median of the per-run fractions.
  const int64_t weight_bytes = model->WeightBytesPerToken();
  const double mean_ctx = double(f.prompt_tokens) + double(f.n_predict) / 2.0;
  const int64_t kv_bytes = int64_t(2.0 * double(c.L * c.NKV * c.HD) * 4.0 * mean_ctx);
  const double t81_gbs = double(weight_bytes + kv_bytes) / (base::Median(t81.eval_ms) / 1000.0) / 1e9;
  std::vector<double> read_gbs;
  for (double ms : t81.eval_ms) read_gbs.push_back(double(weight_bytes + kv_bytes) / (ms / 1000.0) / 1e9);
  const RatioStats bw_fraction = PairedRatios(read_gbs, bandwidth_gbs);
  const double bandwidth = base::Median(bandwidth_gbs);
  const double size_mib = double(std::filesystem::file_size(f.gguf)) / 1048576.0;
  const double t81_tok_s = 1000.0 / base::Median(t81.eval_ms), llama_tok_s = 1000.0 / base::Median(llama.eval_ms);
  std::printf("%s: %.2f MiB, %s, %.1f M parameters; %d threads; prompt %d tokens, %d new tokens, median of %d runs\n",
              f.gguf.c_str(), size_mib, models::ArchName(c.arch), double(model->num_params()) / 1e6, threads,
              f.prompt_tokens, f.n_predict, f.runs);
  std::printf("%-10s %14s %18s %16s %12s\n", "engine", "peak_rss_MiB", "prompt_ms/token", "eval_ms/token", "eval_tok/s");
  std::printf("%-10s %14.1f %18.4f %16.4f %12.1f\n", f.llama_cli.empty() ? "llama.cpp" : "llama-cli", llama.peak_rss_mib,
              base::Median(llama.prompt_ms), base::Median(llama.eval_ms), llama_tok_s);
  std::printf("%-10s %14.1f %18.4f %16.4f %12.1f\n", "t81", t81.peak_rss_mib, base::Median(t81.prompt_ms),
              base::Median(t81.eval_ms), t81_tok_s);
  const RatioStats eval = PairedRatios(llama.eval_ms, t81.eval_ms);
  const double prompt_speedup = PairedRatios(llama.prompt_ms, t81.prompt_ms).median;
  std::printf("eval speed-up t81 / llama.cpp: %.2fx (median of %d paired runs, range %.2f-%.2fx); prompt: %.2fx\n",
              eval.median, f.runs, eval.min, eval.max, prompt_speedup);
  std::printf("t81 reads %.1f MiB per token (weights %.1f + KV cache %.1f) = %.1f GB/s; streaming read bandwidth "
              "%.1f GB/s (%d threads): decode at %.0f%% of the memory-bandwidth limit (median of per-run ratios, "
              "range %.0f-%.0f%%)\n",
              double(weight_bytes + kv_bytes) / 1048576.0, double(weight_bytes) / 1048576.0, double(kv_bytes) / 1048576.0,
              t81_gbs, bandwidth, threads, 100.0 * bw_fraction.median, 100.0 * bw_fraction.min, 100.0 * bw_fraction.max);
  if (!f.json_output.empty()) {
    nlohmann::json j = {{"gguf", f.gguf},
                        {"size_mib", size_mib},
                        {"arch", models::ArchName(c.arch)},
                        {"params", model->num_params()},
                        {"prompt_tokens", f.prompt_tokens},
                        {"n_predict", f.n_predict},
                        {"runs", f.runs},
                        {"llama_via", f.llama_cli.empty() ? "node-llama-cpp 3.21.1 prebuilt (tools/peer/t81_peer)" : f.llama_cli},
                        {"llama", SideJson(llama)},
                        {"t81", SideJson(t81)},
                        {"t81_eval_tok_s", t81_tok_s},
                        {"llama_eval_tok_s", llama_tok_s},
                        {"eval_speedup", eval.median},
                        {"eval_speedup_range", {eval.min, eval.max}},
                        {"prompt_speedup", prompt_speedup},
                        {"t81_bytes_per_token", weight_bytes + kv_bytes},
                        {"t81_weight_bytes_per_token", weight_bytes},
                        {"t81_read_gbs", t81_gbs},
                        {"read_bandwidth_gbs", bandwidth},
                        {"read_bandwidth_gbs_runs", bandwidth_gbs},
                        {"t81_bandwidth_fraction", bw_fraction.median},
                        {"t81_bandwidth_fraction_range", {bw_fraction.min, bw_fraction.max}}};
    AddRunInfo(j, threads, ActiveIsa());
    T81_RETURN_IF_ERROR(WriteFileAtomic(f.json_output, j.dump(2) + "\n"));
  }
  return OkStatus();
}

}  // namespace

struct MemoryFlags {
  int threads = 0, passes = 5;
  int64_t mib = 512;
};

Status RunBenchMemory(const MemoryFlags& f) {
  if (f.mib <= 0 || f.passes <= 0) return Error("--mib and --passes must be positive");
  const int threads = f.threads > 0 ? f.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  base::SetNumThreads(threads);
  std::printf("read_bandwidth_gbs %.3f\n", kernels::StreamReadBandwidth(f.mib << 20, f.passes));
  std::printf("(streaming read of %lld MiB, best of %d passes, %d threads)\n", (long long)f.mib, f.passes, threads);
  return OkStatus();
}

void AddBenchMemory(CLI::App& bench, Runner* run) {
  auto f = std::make_shared<MemoryFlags>();
  CLI::App* c = bench.add_subcommand("memory", "this machine's streaming read bandwidth (the limit of a memory-bound decode)");
  c->add_option("--mib", f->mib, "buffer size (far larger than the caches)")->capture_default_str();
  c->add_option("--passes", f->passes, "reads of the buffer (the best is reported)")->capture_default_str();
  c->add_option("--threads", f->threads, "threads (default: all cores)");
  c->callback([f, run] { *run = [f] { return RunBenchMemory(*f); }; });
}

void AddBenchGguf(CLI::App& bench, Runner* run) {
  auto f = std::make_shared<GgufBenchFlags>();
  CLI::App* c = bench.add_subcommand("gguf", "decode speed and memory of a GGUF file: llama.cpp vs t81");
  c->add_option("--gguf", f->gguf, "the .gguf file")->required();
  c->add_option("--llama-cli", f->llama_cli, "a llama-cli/llama-completion binary (else the npm peer)");
  c->add_option("--n-predict", f->n_predict, "new tokens per run")->capture_default_str();
  c->add_option("--prompt-tokens", f->prompt_tokens, "prompt length")->capture_default_str();
  c->add_option("--threads", f->threads, "threads for both engines (default: all cores)");
  c->add_option("--runs", f->runs, "timed runs per engine")->capture_default_str();
  c->add_option("--peer", f->peer, "t81_peer binary")->capture_default_str();
  c->add_option("--peer-bins", f->peer_bins, "node-llama-cpp bins folder")->capture_default_str();
  c->add_option("--json-output", f->json_output, "write both sides and the ratio as JSON");
  c->callback([f, run] { *run = [f] { return RunGgufBench(*f); }; });
}

}  // namespace t81::cli
