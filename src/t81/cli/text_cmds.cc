// t81 perplexity and t81 generate: text through a model — a Hugging Face folder (float, run in the
// checkpoint's precision), a t81 checkpoint (packed ternary) or a GGUF file — with the model's
// own tokenizer (src/t81/text).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "t81/io/hf_cache.h"
#include "t81/base/threads.h"
#include "t81/base/timer.h"
#include "t81/cli/commands.h"
#include "t81/cli/common.h"
#include "t81/cli/lm_common.h"
#include "t81/data/texts.h"
#include "t81/models/decoder.h"
#include "t81/models/perplexity.h"
#include "t81/text/tokenizer.h"

namespace t81::cli {
namespace {

// The tokenizer: --tokenizer if given, else the model's own (a GGUF file's embedded one).
Result<text::Tokenizer> LoadTokenizer(const std::string& model, const std::string& tokenizer) {
  return text::Tokenizer::Load(tokenizer.empty() ? model : tokenizer);
}

Status CheckVocab(const text::Tokenizer& tok, const models::DecoderLM& m, const std::string& model) {
  if (tok.vocab_size() > m.config().V)
    return Error(tok.path() + ": the tokenizer has " + std::to_string(tok.vocab_size()) + " tokens, more than " + model +
                 "'s vocabulary of " + std::to_string(m.config().V));
  return OkStatus();
}

struct PplFlags {
  std::string model, text, corpus, tokenizer, json_output;
  int64_t ctx = 0, stride = 0, max_tokens = 0;
  int threads = 0;
};

Status RunPerplexity(const PplFlags& f) {
  if (f.ctx < 0 || f.stride < 0 || f.max_tokens < 0) return Error("--ctx, --stride and --max-tokens must not be negative");
  if (f.threads > 0) base::SetNumThreads(f.threads);
  if (f.text.empty() == f.corpus.empty()) return Error("give one of --text PATH or --corpus NAME");
  const std::string source = f.text.empty() ? "corpus " + f.corpus + " (validation)" : f.text;
  T81_ASSIGN_OR_RETURN(const std::vector<std::string> texts,
                       f.text.empty() ? data::ReadCorpus(f.corpus, "validation") : data::ReadTexts(f.text));
  T81_ASSIGN_OR_RETURN(const text::Tokenizer tok, LoadTokenizer(f.model, f.tokenizer));
  // Texts are joined with a blank line between them (as transformers' guide joins a data set).
  std::string joined;
  for (size_t i = 0; i < texts.size(); ++i) joined += (i ? "\n\n" : "") + texts[i];
  auto ids32 = tok.Encode(joined, /*add_special=*/false);
  if (!ids32.ok()) return Error(source + ": " + ids32.status().message());
  std::vector<int64_t> ids(ids32->begin(), ids32->end());
  if (f.max_tokens > 0 && int64_t(ids.size()) > f.max_tokens) ids.resize(size_t(f.max_tokens));
  T81_ASSIGN_OR_RETURN(auto m, LoadLanguageModel(f.model, /*keep_precision=*/true));
  T81_RETURN_IF_ERROR(CheckVocab(tok, *m, f.model));
  models::PerplexityOptions opt;
  opt.ctx = f.ctx;
  opt.stride = f.stride;
  opt.prefix.assign(tok.prefix_ids().begin(), tok.prefix_ids().end());
  const bool tty = isatty(2);
  const double t0 = base::NowSeconds();
  auto progress = [&](int64_t done, int64_t all, int64_t scored, double nll) {
    if (!tty && done != all && done % std::max<int64_t>(1, all / 10)) return;
    const double el = base::NowSeconds() - t0;
    std::fprintf(stderr, "%s[perplexity] window %lld/%lld, %lld tokens, PPL %.4f, %.1fs elapsed, ETA %.1fs   %s",
                 tty ? "\r" : "", (long long)done, (long long)all, (long long)scored, std::exp(nll / double(std::max<int64_t>(1, scored))),
                 el, el / double(done) * double(all - done), tty && done != all ? "" : "\n");
  };
  T81_ASSIGN_OR_RETURN(const models::PerplexityResult r, models::Perplexity(*m, ids, opt, progress));
  std::printf("PPL %.4f over %lld tokens\n", r.ppl, (long long)r.n_tokens);
  std::printf("(%s, %lld text tokens, windows of %lld tokens every %lld, %lld windows%s, %.1f s)\n", f.model.c_str(),
              (long long)ids.size(), (long long)r.ctx, (long long)r.stride, (long long)r.windows,
              opt.prefix.empty() ? "" : ", each starting with the tokenizer's BOS", r.seconds);
  if (!f.json_output.empty()) {
    const nlohmann::json j = {{"model", f.model}, {"text", f.text.empty() ? "sotu:validation" : f.text}, {"ctx", r.ctx}, {"stride", r.stride},
                              {"n_tokens", r.n_tokens}, {"nll", r.nll}, {"ppl", r.ppl}, {"seconds", r.seconds},
                              {"windows", r.windows}, {"text_tokens", int64_t(ids.size())},
                              {"threads", base::NumThreads()}, {"timestamp", Timestamp()}};
    T81_RETURN_IF_ERROR(WriteFileAtomic(f.json_output, j.dump(2) + "\n"));
  }
  return OkStatus();
}

struct GenFlags {
  std::string model, prompt, tokenizer;
  int64_t n = 64;
  int threads = 0;
  models::DecoderLM::Sampling sp;
};

Status RunGenerate(const GenFlags& f) {
  if (f.n < 0) return Error("-n must not be negative");
  if (f.threads > 0) base::SetNumThreads(f.threads);
  T81_ASSIGN_OR_RETURN(const text::Tokenizer tok, LoadTokenizer(f.model, f.tokenizer));
  T81_ASSIGN_OR_RETURN(auto m, LoadLanguageModel(f.model, /*keep_precision=*/true));
  T81_RETURN_IF_ERROR(CheckVocab(tok, *m, f.model));
  auto p32 = tok.Encode(f.prompt, /*add_special=*/true);
  if (!p32.ok()) return Error("--prompt: " + p32.status().message());
  const std::vector<int64_t> prompt(p32->begin(), p32->end());
  if (prompt.empty()) return Error("--prompt: no tokens (give some text)");
  T81_RETURN_IF_ERROR(WriteStdout(f.prompt));
  // New text as it comes: the decoded prompt + new ids, minus what was printed; a tail that is an
  // incomplete UTF-8 character (U+FFFD at the end) waits for the next token.
  std::vector<int32_t> all(p32->begin(), p32->end());
  auto base_text = tok.Decode(all, {true});
  if (!base_text.ok()) return base_text.status();
  size_t printed = base_text->size();
  Status write_status = OkStatus();
  models::DecoderLM::Sampling sp = f.sp;
  sp.stop_id = tok.eos_id();
  models::DecoderLM::GenTiming tm;
  T81_ASSIGN_OR_RETURN(const std::vector<int64_t> fresh, m->GenerateStream(prompt, f.n, sp, [&](int64_t id) {
    all.push_back(int32_t(id));
    auto t = tok.Decode(all, {true});
    if (!t.ok()) return true;
    const std::string& s = t.value();
    const bool partial = s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
    if (!partial && s.size() > printed && s.compare(0, printed, *base_text, 0, printed) == 0) {
      write_status = WriteStdout(s.substr(printed));
      printed = s.size();
      *base_text = s;
    }
    return write_status.ok();
  }, &tm));
  T81_RETURN_IF_ERROR(write_status);
  T81_RETURN_IF_ERROR(WriteStdout("\n"));
  const int64_t n_new = int64_t(fresh.size());
  std::fprintf(stderr, "[generate] prompt %zu tokens, %.1f tok/s; %lld new tokens, decode %.1f tok/s; %d threads%s\n",
               prompt.size(), double(prompt.size()) / std::max(1e-9, tm.prompt_s), (long long)n_new,
               n_new > 1 ? double(n_new - 1) / std::max(1e-9, tm.eval_s) : 0.0, base::NumThreads(),
               !fresh.empty() && fresh.back() == sp.stop_id ? " (stopped at EOS)" : "");
  return OkStatus();
}

}  // namespace

void AddPerplexity(CLI::App& app, Runner* run) {
  auto f = std::make_shared<PplFlags>();
  CLI::App* c = app.add_subcommand("perplexity", "perplexity of a language model on a text (sliding windows)");
  c->add_option("model", f->model, "HF model folder, t81 checkpoint or .gguf")->required();
  c->add_option("--text", f->text, "a text file, a folder of .txt files, or a .jsonl with a \"text\" field");
  c->add_option("--corpus", f->corpus, "a built-in corpus: sotu (its validation split, 2001-2021 addresses)");
  c->add_option("--ctx", f->ctx, "window length in tokens (default: the model's context, at most 1024)");
  c->add_option("--stride", f->stride, "tokens between window starts (default: the window; smaller scores each token with more context)");
  c->add_option("--max-tokens", f->max_tokens, "score only the first N tokens of the text");
  c->add_option("--tokenizer", f->tokenizer, "tokenizer folder or file (default: the model's)");
  c->add_option("--threads", f->threads, "threads (default: all cores)");
  c->add_option("--json-output", f->json_output, "write model, text, ctx, stride, n_tokens, nll, ppl, seconds as JSON");
  c->callback([f, run] { *run = [f]() -> Status {
      T81_ASSIGN_OR_RETURN(f->model, io::ResolveModelPath(f->model));
      return RunPerplexity(*f);
    }; });
}

void AddGenerate(CLI::App& app, Runner* run) {
  auto f = std::make_shared<GenFlags>();
  CLI::App* c = app.add_subcommand("generate", "continue a prompt with a language model (greedy by default)");
  c->add_option("model", f->model, "HF model folder, t81 checkpoint or .gguf")->required();
  c->add_option("--prompt", f->prompt, "the prompt text")->required();
  c->add_option("-n,--n-predict", f->n, "new tokens at most (stops earlier at EOS)")->capture_default_str();
  c->add_option("--temperature", f->sp.temperature, "0: greedy")->capture_default_str();
  c->add_option("--top-k", f->sp.top_k, "sample from the k most likely tokens (0: all)")->capture_default_str();
  c->add_option("--top-p", f->sp.top_p, "then from the smallest set reaching probability p")->capture_default_str();
  c->add_option("--seed", f->sp.seed, "sampling seed")->capture_default_str();
  c->add_option("--tokenizer", f->tokenizer, "tokenizer folder or file (default: the model's)");
  c->add_option("--threads", f->threads, "threads (default: all cores)");
  c->callback([f, run] { *run = [f]() -> Status {
      T81_ASSIGN_OR_RETURN(f->model, io::ResolveModelPath(f->model));
      return RunGenerate(*f);
    }; });
}

}  // namespace t81::cli
