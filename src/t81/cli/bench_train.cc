// t81 bench train: training throughput (forward + backward + AdamW, tokens/s) of a GPT-2-style
// model in FP32 and QAT, optionally against the PyTorch script bench/train_torch.py run by this
// command with the same configuration and thread count.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "t81/base/rng.h"
#include "t81/base/threads.h"
#include "t81/base/timer.h"
#include "t81/cli/commands.h"
#include "t81/cli/common.h"
#include "t81/cli/run_info.h"
#include "t81/models/decoder.h"

namespace t81::cli {
namespace {

struct TrainFlags {
  int64_t n_layer = 4, n_embd = 256, n_head = 4, vocab = 50257, seq = 128, batch = 8;
  int steps = 10, warmup = 2, threads = 0;
  uint64_t seed = 0;
  std::string torch_script, python = "/usr/bin/python3", json_output;
};

struct Timing {
  double step_s, tokens_per_s, first_loss;
};

Result<Timing> TimeSteps(models::DecoderLM& m, const std::vector<int64_t>& ids, const TrainFlags& f, const char* label) {
  std::vector<double> times;
  double first = 0;
  for (int s = 0; s < f.warmup + f.steps; ++s) {
    const double t0 = base::NowSeconds();
    T81_ASSIGN_OR_RETURN(double loss, m.Forward(ids.data(), ids.data(), f.batch, f.seq));
    m.ZeroGrad();
    T81_RETURN_IF_ERROR(m.Backward());
    T81_RETURN_IF_ERROR(m.AdamWStep(1e-4));
    const double dt = base::NowSeconds() - t0;
    if (s == 0) first = loss;
    if (s >= f.warmup) times.push_back(dt);
    std::fprintf(stderr, "[%s] step %d/%d loss %.4f %.3fs\n", label, s + 1, f.warmup + f.steps, loss, dt);
  }
  const double med = base::Median(times);
  return Timing{med, double(f.batch * f.seq) / med, first};
}

Status RunTrain(const TrainFlags& f) {
  for (auto [v, n] : {std::pair{f.n_layer, "--n-layer"}, {f.n_embd, "--n-embd"}, {f.n_head, "--n-head"}, {f.vocab, "--vocab"},
                      {f.seq, "--seq"}, {f.batch, "--batch"}})
    if (v <= 0) return Error(std::string(n) + " must be positive");
  if (f.steps <= 0 || f.warmup < 0) return Error("--steps must be positive and --warmup >= 0");
  if (f.n_embd % f.n_head) return Error("--n-embd must be a multiple of --n-head");
  const int threads = f.threads > 0 ? f.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  base::SetNumThreads(threads);
  models::DecoderConfig cfg;
  cfg.arch = models::Arch::kGpt2;
  cfg.V = f.vocab;
  cfg.C = f.n_embd;
  cfg.L = f.n_layer;
  cfg.NH = cfg.NKV = f.n_head;
  cfg.HD = f.n_embd / f.n_head;
  cfg.FF = 4 * f.n_embd;
  cfg.max_t = f.seq;
  cfg.attn_bias = cfg.mlp_bias = true;
  base::Rng rng(f.seed);
  std::vector<int64_t> ids(static_cast<size_t>(f.batch * f.seq));
  for (int64_t& id : ids) id = int64_t(rng.Below(uint64_t(f.vocab)));

  auto model = models::DecoderLM::Create(cfg, f.seed);
  T81_ASSIGN_OR_RETURN(Timing fp32, TimeSteps(*model, ids, f, "t81 fp32"));
  model = models::DecoderLM::Create(cfg, f.seed);
  T81_RETURN_IF_ERROR(model->SetLinearMode(nn::LinearMode::kQat, quant::TernaryOptions{}));
  T81_ASSIGN_OR_RETURN(Timing qat, TimeSteps(*model, ids, f, "t81 qat"));

  nlohmann::json torch_j = nullptr;
  if (!f.torch_script.empty()) {
    char cmd[1024];
    std::snprintf(cmd, sizeof(cmd),
                  "%s %s --n-layer %lld --n-embd %lld --n-head %lld --vocab %lld --seq %lld --batch %lld --steps %d "
                  "--warmup %d --threads %d --seed %llu",
                  f.python.c_str(), f.torch_script.c_str(), (long long)f.n_layer, (long long)f.n_embd, (long long)f.n_head,
                  (long long)f.vocab, (long long)f.seq, (long long)f.batch, f.steps, f.warmup, threads,
                  (unsigned long long)f.seed);
    T81_ASSIGN_OR_RETURN(torch_j, RunJsonCommand(cmd, f.torch_script + " (PyTorch baseline; is python3-torch installed for " + f.python + "?)",
                                                 {"tokens_per_s", "step_s_median", "first_loss"}));
  }

  std::printf("GPT-2 training step: L %lld, C %lld, heads %lld, T %lld, B %lld, vocab %lld; %d threads; median of %d steps\n",
              (long long)f.n_layer, (long long)f.n_embd, (long long)f.n_head, (long long)f.seq, (long long)f.batch,
              (long long)f.vocab, threads, f.steps);
  std::printf("%-10s %12s %12s %12s\n", "impl", "step_s", "tokens/s", "first_loss");
  std::printf("%-10s %12.4f %12.1f %12.4f\n", "t81_fp32", fp32.step_s, fp32.tokens_per_s, fp32.first_loss);
  std::printf("%-10s %12.4f %12.1f %12.4f\n", "t81_qat", qat.step_s, qat.tokens_per_s, qat.first_loss);
  if (!torch_j.is_null())
    std::printf("%-10s %12.4f %12.1f %12.4f\n", "pytorch", torch_j["step_s_median"].get<double>(),
                torch_j["tokens_per_s"].get<double>(), torch_j["first_loss"].get<double>());
  std::printf("qat step / fp32 step: %.2fx\n", qat.step_s / fp32.step_s);
  if (!torch_j.is_null())
    std::printf("t81 fp32 / pytorch tokens/s: %.2fx\n", fp32.tokens_per_s / torch_j["tokens_per_s"].get<double>());
  if (!f.json_output.empty()) {
    nlohmann::json j = {{"config", {{"n_layer", f.n_layer}, {"n_embd", f.n_embd}, {"n_head", f.n_head}, {"vocab", f.vocab},
                                    {"seq", f.seq}, {"batch", f.batch}}},
                        {"steps", f.steps},
                        {"t81_fp32", {{"step_s_median", fp32.step_s}, {"tokens_per_s", fp32.tokens_per_s}}},
                        {"t81_qat", {{"step_s_median", qat.step_s}, {"tokens_per_s", qat.tokens_per_s}}},
                        {"pytorch", torch_j},
                        {"qat_over_fp32_step", qat.step_s / fp32.step_s}};
    AddRunInfo(j, threads, ActiveIsa());
    if (!torch_j.is_null()) j["speedup_vs_pytorch"] = fp32.tokens_per_s / torch_j["tokens_per_s"].get<double>();
    T81_RETURN_IF_ERROR(WriteFileAtomic(f.json_output, j.dump(2) + "\n"));
  }
  return OkStatus();
}

}  // namespace

void AddBenchTrain(CLI::App& bench, Runner* run) {
  auto f = std::make_shared<TrainFlags>();
  CLI::App* c = bench.add_subcommand("train", "training throughput (GPT-2 config), FP32 and QAT, vs PyTorch");
  c->add_option("--n-layer", f->n_layer, "transformer blocks")->capture_default_str();
  c->add_option("--n-embd", f->n_embd, "model width")->capture_default_str();
  c->add_option("--n-head", f->n_head, "attention heads")->capture_default_str();
  c->add_option("--vocab", f->vocab, "vocabulary size")->capture_default_str();
  c->add_option("--seq", f->seq, "tokens per sequence")->capture_default_str();
  c->add_option("--batch", f->batch, "sequences per step")->capture_default_str();
  c->add_option("--steps", f->steps, "timed steps")->capture_default_str();
  c->add_option("--warmup", f->warmup, "untimed first steps")->capture_default_str();
  c->add_option("--threads", f->threads, "threads for t81 and PyTorch (default: all cores)");
  c->add_option("--seed", f->seed, "seed for weights and token ids")->capture_default_str();
  c->add_option("--torch-script", f->torch_script, "run this PyTorch baseline (bench/train_torch.py) too");
  c->add_option("--python", f->python, "interpreter for --torch-script")->capture_default_str();
  c->add_option("--json-output", f->json_output, "write the results as JSON");
  c->callback([f, run] { *run = [f] { return RunTrain(*f); }; });
}

}  // namespace t81::cli
