// t81 train lm: trains a GPT-2- or Llama-architecture language model on real text (the State of
// the Union corpus by default) with GPT-2's tokenizer, in float or ternary-aware (QAT, with the λ
// warm-up), and writes a Hugging Face folder plus train_log.csv; --resume continues a stopped run
// bit for bit from its train_state.safetensors.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "t81/base/file.h"
#include "t81/base/threads.h"
#include "t81/cli/commands.h"
#include "t81/cli/common.h"
#include "t81/cli/lm_common.h"
#include "t81/cli/run_info.h"
#include "t81/cli/train_flags.h"
#include "t81/data/texts.h"
#include "t81/io/hf_cache.h"
#include "t81/models/lm_train.h"

namespace t81::cli {
namespace {

constexpr const char* kStateFile = "train_state.safetensors";
constexpr const char* kLogFile = "train_log.csv";
constexpr const char* kLogHeader = "step,tokens,train_loss,val_loss,val_ppl,lr,lambda,tokens_per_s,elapsed_s";
constexpr const char* kRunFile = "train_run.json";  // the run that wrote the log's latest rows

struct TrainLmFlags {
  std::string corpus = "sotu", out, arch = "gpt2", init_from, tokenizer, granularity = "row";
  int64_t n_layer = 4, n_embd = 256, n_head = 4, n_ff = 0, eval_every = 100;
  float threshold = quant::kDefaultThreshold;
  bool resume = false;
  int threads = 0;
  models::LmTrainOptions o;
  // The default recipe (the main job's cached model): ~0.9 M tokens, about 20 minutes on 2 cores.
  TrainLmFlags() {
    o.steps = 900;
    o.lr = 2e-3;
    o.min_lr = 2e-4;
    o.warmup = 50;
    o.eval_tokens = 16384;
  }
};

Result<std::unique_ptr<models::DecoderLM>> MakeModel(const TrainLmFlags& f, int64_t vocab) {
  if (!f.init_from.empty()) {
    T81_ASSIGN_OR_RETURN(auto m, models::DecoderLM::Load(f.init_from));
    if (m->config().V < vocab)
      return Error(f.init_from + ": its vocabulary of " + std::to_string(m->config().V) + " is smaller than the tokenizer's " +
                   std::to_string(vocab));
    return m;
  }
  for (auto [v, n] : {std::pair{f.n_layer, "--n-layer"}, {f.n_embd, "--n-embd"}, {f.n_head, "--n-head"}})
    if (v <= 0) return Error(std::string(n) + " must be positive");
  if (f.n_ff < 0) return Error("--n-ff must not be negative");
  if (f.n_embd % f.n_head) return Error("--n-embd must be a multiple of --n-head");
  if (f.n_layer > models::kMaxLayers || f.n_embd > (1 << 16) || f.n_ff > (1 << 18))
    return Error("--n-layer, --n-embd or --n-ff is beyond what t81 trains");
  models::DecoderConfig c;
  T81_ASSIGN_OR_RETURN(c.arch, models::ParseArch(f.arch));
  if (c.arch == models::Arch::kPhi3) return Error("--arch: gpt2 or llama");
  c.V = vocab;
  c.C = f.n_embd;
  c.L = f.n_layer;
  c.NH = c.NKV = f.n_head;
  c.HD = f.n_embd / f.n_head;
  c.max_t = f.o.seq;
  c.tied = true;
  if (c.arch == models::Arch::kGpt2) {
    c.FF = f.n_ff ? f.n_ff : 4 * f.n_embd;
    c.attn_bias = c.mlp_bias = true;
  } else {
    c.FF = f.n_ff ? f.n_ff : (8 * f.n_embd / 3 + 31) / 32 * 32;  // SwiGLU's 2/3 of 4·C, rounded up to 32
  }
  return models::DecoderLM::Create(c, f.o.seed);
}

Status RunTrainLm(TrainLmFlags f) {
  if (f.eval_every < 0) return Error("--eval-every must not be negative");
  const std::string state = f.out + "/" + kStateFile, log = f.out + "/" + kLogFile;
  T81_RETURN_IF_ERROR(StartTrainRun(f, state, kStateFile));
  if (!f.init_from.empty()) {
    T81_ASSIGN_OR_RETURN(f.init_from, io::ResolveModelPath(f.init_from));
  }
  const std::string tok_dir = !f.tokenizer.empty() ? f.tokenizer : !f.init_from.empty() ? f.init_from : DefaultGpt2TokenizerDir();
  T81_ASSIGN_OR_RETURN(const text::Tokenizer tok, text::Tokenizer::Load(tok_dir));
  T81_ASSIGN_OR_RETURN(const std::vector<std::string> train_rows, data::ReadLmSplit(f.corpus, "train"));
  T81_ASSIGN_OR_RETURN(const std::vector<std::string> val_rows, data::ReadLmSplit(f.corpus, "validation"));
  T81_ASSIGN_OR_RETURN(std::vector<int32_t> train, EncodeRows(tok, train_rows, f.corpus + " (train)"));
  T81_ASSIGN_OR_RETURN(std::vector<int32_t> val, EncodeRows(tok, val_rows, f.corpus + " (validation)"));
  std::fprintf(stderr, "[train lm] %s: %zu training tokens, %zu validation tokens (tokenizer %s)\n", f.corpus.c_str(),
               train.size(), val.size(), tok.path().c_str());
  T81_ASSIGN_OR_RETURN(auto m, MakeModel(f, tok.vocab_size()));
  if (!f.init_from.empty() && f.o.seq > m->config().max_t)
    return Error("--seq " + std::to_string(f.o.seq) + " is longer than " + f.init_from + "'s context of " +
                 std::to_string(m->config().max_t));
  T81_ASSIGN_OR_RETURN(models::LmTrainer tr, models::LmTrainer::Create(m.get(), f.o, std::move(train), std::move(val)));
  if (f.resume) {
    T81_RETURN_IF_ERROR(tr.LoadState(state));
    T81_RETURN_IF_ERROR(TruncateCsvAfter(log, tr.step()));
    std::fprintf(stderr, "[train lm] resumed %s at step %lld\n", f.out.c_str(), (long long)tr.step());
  }
  const models::DecoderConfig& c = m->config();
  std::fprintf(stderr, "[train lm] %s, %lld layers, n_embd %lld, %lld heads, vocab %lld: %lld parameters; %s; %d threads\n",
               models::ArchName(c.arch), (long long)c.L, (long long)c.C, (long long)c.NH, (long long)c.V,
               (long long)m->num_params(), f.o.qat ? "QAT (ternary block linears)" : "float", base::NumThreads());
  PrintBlasCoreNote("train lm");
  const bool tty = isatty(2);
  double loss_sum = 0;
  int64_t loss_n = 0, tokens0 = tr.tokens();
  double elapsed0 = tr.elapsed_s();
  bool saved_once = false;
  while (tr.step() < f.o.steps) {
    T81_ASSIGN_OR_RETURN(const double loss, tr.Step());
    loss_sum += loss;
    ++loss_n;
    const int64_t s = tr.step();
    const double per_step = tr.elapsed_s() / double(s);
    if (tty || s % 10 == 0 || s == f.o.steps)
      std::fprintf(stderr, "%s[train lm] step %lld/%lld loss %.4f lr %.2e%s%s %.0f tok/s, %s elapsed, ETA %s   %s",
                   tty ? "\r" : "", (long long)s, (long long)f.o.steps, loss, models::LmLearningRate(f.o, s - 1),
                   f.o.qat ? " lambda " : "", f.o.qat ? std::to_string(models::LmQatLambda(f.o, s - 1)).substr(0, 4).c_str() : "",
                   double(tr.tokens() - tokens0) / std::max(1e-9, tr.elapsed_s() - elapsed0), HumanDuration(tr.elapsed_s()).c_str(),
                   HumanDuration(per_step * double(f.o.steps - s)).c_str(), tty ? "" : "\n");
    if (s != f.o.steps && (f.eval_every == 0 || s % f.eval_every)) continue;
    const double tok_s = double(tr.tokens() - tokens0) / std::max(1e-9, tr.elapsed_s() - elapsed0);
    T81_ASSIGN_OR_RETURN(const double val_loss, tr.Evaluate());
    if (tty) std::fprintf(stderr, "\n");
    std::fprintf(stderr, "[train lm] step %lld: train loss %.4f, validation loss %.4f (PPL %.2f)\n", (long long)s,
                 loss_sum / double(loss_n), val_loss, std::exp(val_loss));
    char row[512];
    std::snprintf(row, sizeof row, "%lld,%lld,%.6f,%.6f,%.4f,%.6g,%.4f,%.1f,%.2f", (long long)s, (long long)tr.tokens(),
                  loss_sum / double(loss_n), val_loss, std::exp(val_loss), models::LmLearningRate(f.o, s - 1),
                  models::LmQatLambda(f.o, s - 1), tok_s, tr.elapsed_s());
    // The tokenizer files once, the weights every time.
    T81_RETURN_IF_ERROR(saved_once ? m->Save(f.out) : SaveLanguageModel(*m, tok, tok.path(), f.out));
    saved_once = true;
    T81_RETURN_IF_ERROR(tr.SaveState(state));
    T81_RETURN_IF_ERROR(AppendCsv(log, kLogHeader, {row}));
    nlohmann::json run_info = {{"log", kLogFile}, {"step", s}, {"steps", f.o.steps}};
    AddRunInfo(run_info, base::NumThreads(), ActiveIsa());
    T81_RETURN_IF_ERROR(base::WriteFileAtomic(f.out + "/" + kRunFile, run_info.dump(2) + "\n"));
    loss_sum = 0;
    loss_n = 0;
    tokens0 = tr.tokens();
    elapsed0 = tr.elapsed_s();
  }
  std::printf("trained %s: %lld steps, %lld tokens, %s; model in %s (log: %s)\n", models::ArchName(c.arch),
              (long long)tr.step(), (long long)tr.tokens(), HumanDuration(tr.elapsed_s()).c_str(), f.out.c_str(), log.c_str());
  return OkStatus();
}

}  // namespace

void AddTrain(CLI::App& app, Runner* run) {
  CLI::App* train = app.add_subcommand("train", "train models on real data");
  train->require_subcommand(1);
  auto f = std::make_shared<TrainLmFlags>();
  CLI::App* c = train->add_subcommand("lm", "train a GPT-2 / Llama language model (float or QAT) into an HF folder");
  c->add_option("--corpus", f->corpus, "sotu, a wikitext-2-raw-v1 folder, or a text file / folder / .jsonl (last tenth: validation)")
      ->capture_default_str();
  c->add_option("--out", f->out, "model folder to write (config.json, model.safetensors, tokenizer, train_log.csv)")->required();
  c->add_option("--arch", f->arch, "gpt2 or llama")->capture_default_str();
  c->add_option("--n-layer", f->n_layer, "transformer blocks")->capture_default_str();
  c->add_option("--n-embd", f->n_embd, "model width")->capture_default_str();
  c->add_option("--n-head", f->n_head, "attention heads")->capture_default_str();
  c->add_option("--n-ff", f->n_ff, "MLP width (default: 4·n_embd for gpt2, 8/3·n_embd for llama)");
  c->add_option("--seq", f->o.seq, "tokens per training window (also the model's context)")->capture_default_str();
  c->add_option("--batch", f->o.batch, "windows per step")->capture_default_str();
  c->add_option("--steps", f->o.steps, "optimizer steps (total, also when resuming)")->capture_default_str();
  c->add_option("--eval-every", f->eval_every, "validate, log and save every N steps (0: at the end)")->capture_default_str();
  c->add_option("--eval-tokens", f->o.eval_tokens, "validation tokens per evaluation")->capture_default_str();
  c->add_option("--tokenizer", f->tokenizer, "tokenizer folder (default: GPT-2's, or --init-from's)");
  AddSharedTrainFlags(c, f.get(), {.weight_decay = "AdamW decay (matrices and embeddings)",
                                   .seed = "seed for the initial weights and the batches",
                                   .init_from = "start from this HF model folder (its shape; e.g. QAT fine-tuning)"});
  c->callback([f, run] { *run = [f] { return RunTrainLm(*f); }; });
  AddTrainVit(*train, run);
}

}  // namespace t81::cli
