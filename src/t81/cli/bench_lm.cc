// t81 bench lm: the seed's benchmark 2 (phi3_ptq_qat_benchmark.py) — a causal LM's size,
// perplexity and tok/s as a float baseline, after post-training ternarization (PTQ) and after a
// short QAT fine-tune, with the seed's flags, console summary and JSON keys. Baseline runs float
// (float32, or bf16 kept as stored with --dtype bfloat16); PTQ and QAT run the packed ternary
// kernels, the head (the embedding when tied) in Q8_0 unless --head float.
//
// Measurements as the seed defines them: PPL = one forward pass over the first --max-eval-tokens
// tokens of the first --eval-texts non-blank lines of the evaluation split, joined by a blank
// line; tok/s = N / time of generate(N) (prefill included) after a generate(1) warm-up on the
// seed's prompt. Additions: prompt and decode tok/s apart, and with --full-eval a sliding-window
// PPL over the whole evaluation split.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "t81/base/threads.h"
#include "t81/base/timer.h"
#include "t81/cli/commands.h"
#include "t81/cli/common.h"
#include "t81/cli/lm_common.h"
#include "t81/cli/run_info.h"
#include "t81/data/texts.h"
#include "t81/io/hf_cache.h"
#include "t81/models/perplexity.h"

namespace t81::cli {
namespace {

constexpr const char* kPrompt = "Summarize balanced ternary quantization in one paragraph.";

struct BenchLmFlags {
  std::string model_id = "microsoft/Phi-3-mini-4k-instruct", device = "cpu", dtype = "float32", dataset = "sotu";
  std::string train_split = "train[:1%]", output_dir = "phi3-qat", json_output, granularity = "row", head = "q8_0";
  float threshold = quant::kDefaultThreshold;
  int64_t max_eval_tokens = 1024, eval_texts = 32, max_new_tokens = 64, qat_steps = 50;
  double learning_rate = 5e-5;
  bool skip_latency = false, skip_ptq_ppl = false, run_qat = false, full_eval = false;
  int threads = 0;
};

struct Stage {
  double size_bytes = 0;
  double ppl = NAN;  // NAN: skipped
  double tok_s = 0, prompt_tok_s = 0, decode_tok_s = 0, full_ppl = NAN, seconds = 0;
};

struct Inputs {
  std::vector<int64_t> eval;     // the PPL window
  std::vector<int64_t> full;     // the whole evaluation split (--full-eval)
  std::vector<int64_t> prefix;   // BOS the tokenizer adds, for --full-eval windows
  std::vector<int64_t> prompt;   // the seed's prompt
};

double Gib(double bytes) { return bytes / double(1ull << 30); }

Status Measure(const BenchLmFlags& f, models::DecoderLM& m, const Inputs& in, bool ppl, const char* name, Stage* st) {
  const double t0 = base::NowSeconds();
  if (ppl) {
    double nll = 0;
    int64_t n = 0;
    T81_RETURN_IF_ERROR(m.ScoreTokens(in.eval.data(), int64_t(in.eval.size()), 1, &nll, &n));
    st->ppl = std::exp(nll / double(n));
    std::fprintf(stderr, "[bench lm] %s PPL %.4f over %lld tokens\n", name, st->ppl, (long long)n);
    if (f.full_eval) {
      models::PerplexityOptions po;
      po.ctx = std::min<int64_t>(m.config().max_t, 1024);
      po.stride = po.ctx / 2;
      po.prefix = in.prefix;
      T81_ASSIGN_OR_RETURN(const models::PerplexityResult r, models::Perplexity(m, in.full, po));
      st->full_ppl = r.ppl;
      std::fprintf(stderr, "[bench lm] %s sliding-window PPL %.4f over %lld tokens\n", name, r.ppl, (long long)r.n_tokens);
    }
  }
  if (!f.skip_latency && f.max_new_tokens > 0) {
    T81_RETURN_IF_ERROR(m.Generate(in.prompt, 1).status());  // warm-up
    models::DecoderLM::GenTiming tm;
    const double g0 = base::NowSeconds();
    T81_RETURN_IF_ERROR(m.Generate(in.prompt, f.max_new_tokens, &tm).status());
    const double dt = base::NowSeconds() - g0;
    st->tok_s = double(f.max_new_tokens) / dt;
    st->prompt_tok_s = double(in.prompt.size()) / std::max(1e-9, tm.prompt_s);
    st->decode_tok_s = f.max_new_tokens > 1 ? double(f.max_new_tokens - 1) / std::max(1e-9, tm.eval_s) : 0.0;
    std::fprintf(stderr, "[bench lm] %s %.2f tok/s (prompt %.1f tok/s, decode %.1f tok/s)\n", name, st->tok_s,
                 st->prompt_tok_s, st->decode_tok_s);
  }
  st->seconds = base::NowSeconds() - t0;
  return OkStatus();
}

// Bytes as the ternary modes store the model: TQ blocks of the block linears, the head (and a tied
// embedding) in Q8_0 when head_q8, every other tensor at float_bytes a value. float_names gets the
// tensors kept float.
double TernaryBytes(const models::DecoderLM& m, bool head_q8, int float_bytes, std::vector<std::string>* float_names) {
  const models::DecoderConfig& c = m.config();
  double bytes = double(m.LinearBytes());
  for (const models::HfTensor& h : m.hf_tensors()) {
    if (h.linear) continue;
    const bool is_head = h.gguf == "output.weight" || (c.tied && h.gguf == "token_embd.weight");
    if (head_q8 && is_head) {
      bytes += double(h.numel()) / 32.0 * 34.0;
      continue;
    }
    bytes += double(h.numel()) * float_bytes;
    float_names->push_back(h.name);
  }
  return bytes;
}

// The seed's QAT stage: batch 1, one training row a step (cycling), truncated to the model's
// context; AdamW (torch defaults, no decay) with the learning rate decaying linearly to 0 (HF
// Trainer), gradient norm clipped at 1, λ warm-up over max(1, steps / 2) steps.
Result<std::vector<double>> RunQat(const BenchLmFlags& f, models::DecoderLM& m, const text::Tokenizer& tok,
                                   const quant::TernaryOptions& topt) {
  T81_ASSIGN_OR_RETURN(const std::vector<std::string> rows, data::ReadLmSplitExpr(f.dataset, f.train_split));
  std::vector<std::vector<int64_t>> seqs;
  for (const std::string& r : rows) {
    auto ids = tok.Encode(r, /*add_special=*/true);
    if (!ids.ok()) return Error(f.dataset + " (" + f.train_split + "): " + ids.status().message());
    if (ids->size() <= 1) continue;
    seqs.emplace_back(ids->begin(), ids->begin() + std::min<int64_t>(int64_t(ids->size()), m.config().max_t));
  }
  if (seqs.empty()) return Error(f.dataset + " (" + f.train_split + "): no row with more than one token to train on");
  T81_RETURN_IF_ERROR(m.SetLinearMode(nn::LinearMode::kQat, topt));
  const int64_t warm = std::max<int64_t>(1, f.qat_steps / 2);
  std::vector<double> losses;
  const double t0 = base::NowSeconds();
  for (int64_t s = 0; s < f.qat_steps; ++s) {
    const std::vector<int64_t>& ids = seqs[size_t(s) % seqs.size()];
    m.SetQatLambda(float(std::min(1.0, double(s + 1) / double(warm))));
    T81_ASSIGN_OR_RETURN(const double loss, m.Forward(ids.data(), ids.data(), 1, int64_t(ids.size())));
    m.ZeroGrad();
    T81_RETURN_IF_ERROR(m.Backward());
    m.ClipGradNorm(1.0);
    T81_RETURN_IF_ERROR(m.AdamWStep(f.learning_rate * double(f.qat_steps - s) / double(f.qat_steps)));
    losses.push_back(loss);
    const double el = base::NowSeconds() - t0;
    std::fprintf(stderr, "[bench lm] QAT step %lld/%lld loss %.4f, %.1fs elapsed, ETA %.1fs\n", (long long)s + 1,
                 (long long)f.qat_steps, loss, el, el / double(s + 1) * double(f.qat_steps - s - 1));
  }
  m.SetQatLambda(1.0f);
  return losses;
}

nlohmann::ordered_json StageJson(const Stage& s, bool with_ppl) {
  nlohmann::ordered_json j = {{"size_gib", Gib(s.size_bytes)}};
  j["ppl"] = with_ppl && std::isfinite(s.ppl) ? nlohmann::ordered_json(s.ppl) : nlohmann::ordered_json(nullptr);
  j["tok_s"] = s.tok_s;
  return j;
}

Status RunBenchLm(BenchLmFlags f) {
  if (f.device != "cpu" && f.device != "auto") return Error("--device '" + f.device + "': t81 runs on the CPU (cpu or auto)");
  if (f.dtype != "float32" && f.dtype != "bfloat16") return Error("--dtype '" + f.dtype + "': float32 or bfloat16");
  if (f.head != "q8_0" && f.head != "float") return Error("--head '" + f.head + "': q8_0 or float");
  if (f.max_eval_tokens < 2 || f.eval_texts < 1) return Error("--max-eval-tokens must be at least 2 and --eval-texts positive");
  if (f.max_new_tokens < 0 || f.qat_steps < 0) return Error("--max-new-tokens and --qat-steps must not be negative");
  if (!(f.learning_rate > 0)) return Error("--learning-rate must be positive");
  if (f.threads > 0) base::SetNumThreads(f.threads);
  quant::TernaryOptions topt;
  topt.threshold = f.threshold;
  T81_ASSIGN_OR_RETURN(topt.granularity, quant::ParseGranularity(f.granularity));
  T81_RETURN_IF_ERROR(quant::CheckTernaryOptions(topt));
  if (f.run_qat) T81_RETURN_IF_ERROR(data::ReadLmSplitExpr(f.dataset, f.train_split).status());  // bad splits fail first
  T81_ASSIGN_OR_RETURN(const std::string path, io::ResolveModelPath(f.model_id));
  auto tok_r = text::Tokenizer::Load(path);
  if (!tok_r.ok()) return Error(f.model_id + ": no tokenizer (" + tok_r.status().message() + ")");
  const text::Tokenizer& tok = *tok_r;

  // The evaluation window: the first eval_texts non-blank lines, joined by a blank line.
  T81_ASSIGN_OR_RETURN(const std::vector<std::string> rows, data::ReadLmSplit(f.dataset, "test"));
  std::string joined, all;
  int64_t lines = 0;
  for (const std::string& r : rows) {
    all += (all.empty() ? "" : "\n\n") + r;
    for (const std::string& line : data::SplitLines(r)) {
      if (lines == f.eval_texts) break;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      joined += (lines++ ? "\n\n" : "") + line;
    }
  }
  if (lines == 0) return Error(f.dataset + ": the evaluation split has no non-blank line");
  Inputs in;
  auto enc = [&](const std::string& s, std::vector<int64_t>* out) -> Status {
    auto ids = tok.Encode(s, /*add_special=*/true);
    if (!ids.ok()) return Error(f.dataset + ": " + ids.status().message());
    out->assign(ids->begin(), ids->end());
    return OkStatus();
  };
  T81_RETURN_IF_ERROR(enc(joined, &in.eval));
  if (int64_t(in.eval.size()) > f.max_eval_tokens) in.eval.resize(size_t(f.max_eval_tokens));
  if (in.eval.size() < 2) return Error(f.dataset + ": the evaluation text has fewer than 2 tokens");
  T81_RETURN_IF_ERROR(enc(kPrompt, &in.prompt));
  if (f.full_eval) {
    auto ids = tok.Encode(all, false);
    if (!ids.ok()) return Error(f.dataset + ": " + ids.status().message());
    in.full.assign(ids->begin(), ids->end());
    in.prefix.assign(tok.prefix_ids().begin(), tok.prefix_ids().end());
  }

  const bool bf16 = f.dtype == "bfloat16";
  T81_ASSIGN_OR_RETURN(auto m, LoadLanguageModel(path, /*keep_precision=*/bf16));
  const models::DecoderConfig& c = m->config();
  if (tok.vocab_size() > c.V) return Error(f.model_id + ": the tokenizer has more tokens than the model's vocabulary");
  if (f.max_eval_tokens > c.max_t)
    return Error("--max-eval-tokens " + std::to_string(f.max_eval_tokens) + " is beyond " + f.model_id + "'s context of " +
                 std::to_string(c.max_t));
  if (!f.skip_latency && int64_t(in.prompt.size()) + f.max_new_tokens > c.max_t)
    return Error("--max-new-tokens " + std::to_string(f.max_new_tokens) + " does not fit " + f.model_id + "'s context");
  const int float_bytes = bf16 ? 2 : 4;
  std::fprintf(stderr, "[bench lm] %s (%s, %lld parameters), %s, %d threads\n", f.model_id.c_str(), models::ArchName(c.arch),
               (long long)m->num_params(), f.dtype.c_str(), base::NumThreads());

  Stage base, ptq, qat;
  base.size_bytes = double(m->num_params()) * float_bytes;
  T81_RETURN_IF_ERROR(Measure(f, *m, in, true, "baseline", &base));

  const bool head_q8 = f.head == "q8_0";
  T81_RETURN_IF_ERROR(m->SetLinearMode(nn::LinearMode::kPacked, topt));
  if (head_q8) T81_RETURN_IF_ERROR(m->QuantizeHeadQ8());
  std::vector<std::string> float_names;
  ptq.size_bytes = TernaryBytes(*m, head_q8, float_bytes, &float_names);
  T81_RETURN_IF_ERROR(Measure(f, *m, in, !f.skip_ptq_ppl, "PTQ", &ptq));

  std::vector<double> qat_losses;
  double qat_train_s = 0;
  if (f.run_qat) {
    const double t0 = base::NowSeconds();
    T81_ASSIGN_OR_RETURN(qat_losses, RunQat(f, *m, tok, topt));
    qat_train_s = base::NowSeconds() - t0;
    T81_RETURN_IF_ERROR(SaveLanguageModel(*m, tok, path, f.output_dir));
    T81_RETURN_IF_ERROR(m->SetLinearMode(nn::LinearMode::kPacked, topt));
    if (head_q8) T81_RETURN_IF_ERROR(m->QuantizeHeadQ8());
    std::vector<std::string> unused;
    qat.size_bytes = TernaryBytes(*m, head_q8, float_bytes, &unused);
    T81_RETURN_IF_ERROR(Measure(f, *m, in, true, "QAT", &qat));
  }
  const double ratio = base.size_bytes / std::max(1.0, ptq.size_bytes);

  std::printf("\nSummary\n");
  std::printf("Baseline size GiB: %.2f\n", Gib(base.size_bytes));
  std::printf("PTQ size GiB: %.2f\n", Gib(ptq.size_bytes));
  std::printf("Compression ratio: %.1fx\n", ratio);
  std::printf("Baseline PPL: %.2f\n", base.ppl);
  if (f.skip_ptq_ppl) std::printf("PTQ PPL: pending\n");
  else std::printf("PTQ PPL: %.2f\n", ptq.ppl);
  std::printf("Baseline tok/s: %.2f\n", base.tok_s);
  std::printf("PTQ tok/s: %.2f\n", ptq.tok_s);
  if (f.run_qat) {
    std::printf("QAT PPL: %.2f\n", qat.ppl);
    std::printf("QAT tok/s: %.2f\n", qat.tok_s);
  }
  if (!f.skip_latency && f.max_new_tokens > 1) {
    char qat_decode[48] = "";
    if (f.run_qat) std::snprintf(qat_decode, sizeof qat_decode, ", QAT %.1f", qat.decode_tok_s);
    std::printf("(decode tok/s: baseline %.1f, PTQ %.1f%s; %d threads; ternary modes: block linears TQ2_0, head %s)\n",
                base.decode_tok_s, ptq.decode_tok_s, qat_decode, base::NumThreads(), head_q8 ? "Q8_0" : "float");
  }

  if (!f.json_output.empty()) {
    nlohmann::ordered_json j;
    j["model_id"] = f.model_id;
    j["dataset"] = f.dataset;
    j["device"] = f.device;
    j["dtype"] = f.dtype;
    j["threshold"] = f.threshold;
    j["max_eval_tokens"] = f.max_eval_tokens;
    j["eval_texts"] = f.eval_texts;
    j["max_new_tokens"] = f.max_new_tokens;
    j["skip_latency"] = f.skip_latency;
    j["skip_ptq_ppl"] = f.skip_ptq_ppl;
    j["run_qat"] = f.run_qat;
    j["qat_steps"] = f.qat_steps;
    j["train_split"] = f.train_split;
    j["learning_rate"] = f.learning_rate;
    j["compression_ratio"] = ratio;
    j["baseline"] = StageJson(base, true);
    j["ptq"] = StageJson(ptq, !f.skip_ptq_ppl);
    j["qat"] = f.run_qat ? StageJson(qat, true) : nlohmann::ordered_json(nullptr);
    // Additions.
    auto extra = [&](const Stage& s) {
      nlohmann::ordered_json e = {{"size_bytes", s.size_bytes}, {"prompt_tok_s", s.prompt_tok_s},
                                  {"decode_tok_s", s.decode_tok_s}, {"seconds", s.seconds}};
      if (f.full_eval) e["full_eval_ppl"] = std::isfinite(s.full_ppl) ? nlohmann::ordered_json(s.full_ppl) : nullptr;
      return e;
    };
    j["arch"] = models::ArchName(c.arch);
    j["num_params"] = m->num_params();
    j["granularity"] = f.granularity;
    j["ternary_format"] = "TQ2_0";
    j["head_type"] = f.head;
    j["float_tensors"] = float_names;
    j["ppl_tokens"] = int64_t(in.eval.size());
    j["prompt_tokens"] = int64_t(in.prompt.size());
    j["threads"] = base::NumThreads();
    j["stages"] = {{"baseline", extra(base)}, {"ptq", extra(ptq)}};
    if (f.run_qat) {
      j["stages"]["qat"] = extra(qat);
      j["qat_losses"] = qat_losses;
      j["qat_train_seconds"] = qat_train_s;
      j["output_dir"] = f.output_dir;
    }
    AddRunInfo(j, base::NumThreads(), ActiveIsa());
    T81_RETURN_IF_ERROR(WriteFileAtomic(f.json_output, j.dump(2) + "\n"));
  }
  return OkStatus();
}

}  // namespace

void AddBenchLm(CLI::App& bench, Runner* run) {
  auto f = std::make_shared<BenchLmFlags>();
  CLI::App* c = bench.add_subcommand("lm", "causal LM: size, perplexity and tok/s, float / PTQ / QAT (the seed's benchmark 2)");
  c->add_option("--model-id", f->model_id, "model folder, .gguf, or a Hugging Face id in the local cache")->capture_default_str();
  c->add_option("--device", f->device, "cpu or auto (= cpu)")->capture_default_str();
  c->add_option("--dtype", f->dtype, "float32, or bfloat16 (the baseline keeps bf16 weights)")->capture_default_str();
  c->add_option("--threshold", f->threshold, "PTQ threshold and QAT target")->capture_default_str();
  c->add_option("--granularity", f->granularity, "ternary scale group: tensor, row or block (as t81 convert)")->capture_default_str();
  c->add_option("--head", f->head, "ternary modes' head (and tied embedding): q8_0 or float")->capture_default_str();
  c->add_option("--max-eval-tokens", f->max_eval_tokens, "perplexity window length")->capture_default_str();
  c->add_option("--eval-texts", f->eval_texts, "non-blank lines of the evaluation split joined for perplexity")->capture_default_str();
  c->add_option("--max-new-tokens", f->max_new_tokens, "tokens generated for tok/s")->capture_default_str();
  c->add_flag("--skip-latency", f->skip_latency, "skip tok/s (reported 0.0)");
  c->add_flag("--skip-ptq-ppl", f->skip_ptq_ppl, "skip PTQ perplexity (reported null)");
  c->add_flag("--run-qat", f->run_qat, "run the QAT stage");
  c->add_option("--qat-steps", f->qat_steps, "QAT fine-tuning steps on the training split")->capture_default_str();
  c->add_option("--train-split", f->train_split, "QAT rows: train, train[:20], train[10:50], train[:1%]")->capture_default_str();
  c->add_option("--learning-rate", f->learning_rate, "QAT learning rate")->capture_default_str();
  c->add_option("--output-dir", f->output_dir, "where the QAT model is saved (HF folder)")->capture_default_str();
  c->add_option("--dataset", f->dataset, "sotu, a wikitext-2-raw-v1 folder, or a text file / folder / .jsonl")->capture_default_str();
  c->add_flag("--full-eval", f->full_eval, "also a sliding-window PPL over the whole evaluation split");
  c->add_option("--threads", f->threads, "threads (default: all cores)");
  c->add_option("--json-output", f->json_output, "write the results as JSON (the seed's keys first)");
  c->callback([f, run] { *run = [f] { return RunBenchLm(*f); }; });
}

}  // namespace t81::cli
