// t81_peer: runs a GGUF file in real llama.cpp (the prebuilt libraries of npm node-llama-cpp
// 3.21.1, see scripts/peer/install.sh) and reports what t81's tests and benchmarks compare with:
// the logits of every position of a token sequence, and greedy-decoding speed.
//
//   t81_peer BINS_DIR MODEL.gguf (--ids 1,2,3 | --text "...") [--out logits.bin] [--threads N]
//            [--gen N] [--runs R]
//   t81_peer BINS_DIR MODEL.gguf (--tokenize TEXT | --tokenize-file F)
//   t81_peer BINS_DIR MODEL.gguf --ids-file F --ppl-ctx N [--threads N]
//   t81_peer BINS_DIR MODEL.gguf --quantize OUT.gguf --type q8_0|q4_0 [--threads N]
// The second form loads the vocabulary only and prints llama_tokenize's ids of the text (one line,
// space-separated), with add_special=false and parse_special=true: control tokens written in the
// text are matched, as t81's Tokenizer::Encode(text, false) matches added tokens.
// Prints the perplexity of the sequence (each position predicting the next, from the raw
// logits). --text tokenizes with the file's own vocabulary. --out writes float32 logits
// (n_tokens × n_vocab, row-major). --gen times N greedy tokens after the sequence (R runs) and
// prints one line per run: "run <r> prompt_ms <x> eval_ms_per_token <y>".
// --ppl-ctx scores the ids of --ids-file (whitespace-separated) in disjoint windows of N tokens,
// each in a fresh context, every position but a window's first (t81 perplexity's protocol with
// --stride = --ctx, no BOS): "windows W n_scored S mean_nll X ppl Y".
// --quantize writes llama.cpp's own quantization of MODEL (llama_model_quantize, default rules).
#include <ggml-backend.h>
#include <llama.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

void Quiet(ggml_log_level level, const char* text, void*) {
  if (level >= GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

double Ms(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Evaluates ids in one batch starting at position pos0; logits wanted for all (or only the last).
bool Decode(llama_context* ctx, const std::vector<llama_token>& ids, int pos0, bool all_logits) {
  llama_batch b = llama_batch_init(int32_t(ids.size()), 0, 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    b.token[i] = ids[i];
    b.pos[i] = pos0 + int32_t(i);
    b.n_seq_id[i] = 1;
    b.seq_id[i][0] = 0;
    b.logits[i] = all_logits || i + 1 == ids.size();
  }
  b.n_tokens = int32_t(ids.size());
  const int rc = llama_decode(ctx, b);
  llama_batch_free(b);
  return rc == 0;
}

}  // namespace

// llama.cpp quiet, its CPU backend from bins, the model (or its vocabulary only) on the CPU; null
// (after a message) when llama.cpp cannot load it.
llama_model* LoadModel(const char* bins, const char* model_path, bool vocab_only) {
  llama_log_set(Quiet, nullptr);
  ggml_log_set(Quiet, nullptr);
  ggml_backend_load_all_from_path(bins);
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  mp.vocab_only = vocab_only;
  llama_model* model = llama_model_load_from_file(model_path, mp);
  if (!model) std::fprintf(stderr, "t81_peer: llama.cpp could not load %s\n", model_path);
  return model;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s BINS_DIR MODEL.gguf --ids 1,2,3 [--out F] [--threads N] [--gen N] [--runs R]\n", argv[0]);
    return 2;
  }
  const char* bins = argv[1];
  const char* model_path = argv[2];
  std::vector<llama_token> ids;
  std::string out, text, tok_text;
  std::string quant_out, quant_type;
  bool tokenize = false;
  int threads = 1, gen = 0, runs = 1, ppl_ctx = 0;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--ids") {
      for (const char* p = v.c_str(); *p;) {
        ids.push_back(llama_token(std::strtol(p, const_cast<char**>(&p), 10)));
        if (*p == ',') ++p;
      }
    } else if (k == "--text") text = v;
    else if (k == "--tokenize") {
      tok_text = v;
      tokenize = true;
    } else if (k == "--tokenize-file") {
      FILE* f = std::fopen(v.c_str(), "rb");
      if (!f) {
        std::fprintf(stderr, "t81_peer: cannot read %s\n", v.c_str());
        return 2;
      }
      char buf[4096];
      for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) tok_text.append(buf, n);
      std::fclose(f);
      tokenize = true;
    }
    else if (k == "--ids-file") {
      FILE* f = std::fopen(v.c_str(), "rb");
      if (!f) {
        std::fprintf(stderr, "t81_peer: cannot read %s\n", v.c_str());
        return 2;
      }
      for (long id; std::fscanf(f, "%ld", &id) == 1;) ids.push_back(llama_token(id));
      std::fclose(f);
    } else if (k == "--ppl-ctx") ppl_ctx = std::atoi(v.c_str());
    else if (k == "--quantize") quant_out = v;
    else if (k == "--type") quant_type = v;
    else if (k == "--out") out = v;
    else if (k == "--threads") threads = std::atoi(v.c_str());
    else if (k == "--gen") gen = std::atoi(v.c_str());
    else if (k == "--runs") runs = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "t81_peer: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (tokenize) {
    llama_model* model = LoadModel(bins, model_path, /*vocab_only=*/true);
    if (!model) return 1;
    const llama_vocab* vocab = llama_model_get_vocab(model);
    std::vector<llama_token> toks(tok_text.size() + 8);
    const int n = llama_tokenize(vocab, tok_text.data(), int32_t(tok_text.size()), toks.data(), int32_t(toks.size()),
                                 /*add_special=*/false, /*parse_special=*/true);
    if (n < 0) {
      std::fprintf(stderr, "t81_peer: tokenization failed\n");
      return 1;
    }
    for (int i = 0; i < n; ++i) std::printf(i ? " %d" : "%d", toks[size_t(i)]);
    std::printf("\n");
    llama_model_free(model);
    return 0;
  }
  if (!quant_out.empty()) {
    llama_log_set(Quiet, nullptr);
    llama_backend_init();
    llama_model_quantize_params qp = llama_model_quantize_default_params();
    qp.nthread = threads;
    if (quant_type == "q8_0") qp.ftype = LLAMA_FTYPE_MOSTLY_Q8_0;
    else if (quant_type == "q4_0") qp.ftype = LLAMA_FTYPE_MOSTLY_Q4_0;
    else {
      std::fprintf(stderr, "t81_peer: --type q8_0 or q4_0\n");
      return 2;
    }
    if (llama_model_quantize(model_path, quant_out.c_str(), &qp) != 0) {
      std::fprintf(stderr, "t81_peer: llama_model_quantize failed for %s\n", model_path);
      return 1;
    }
    return 0;
  }
  if (ppl_ctx > 0) {
    if (ppl_ctx < 2 || ids.size() < 2) {
      std::fprintf(stderr, "t81_peer: --ppl-ctx needs at least 2 and --ids-file at least 2 ids\n");
      return 2;
    }
    llama_model* model = LoadModel(bins, model_path, /*vocab_only=*/false);
    if (!model) return 1;
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    double nll = 0;
    long scored = 0, windows = 0;
    for (size_t b = 0; b < ids.size(); b += size_t(ppl_ctx)) {
      const std::vector<llama_token> win(ids.begin() + long(b), ids.begin() + long(std::min(ids.size(), b + size_t(ppl_ctx))));
      llama_context_params cp = llama_context_default_params();
      cp.n_ctx = cp.n_batch = cp.n_ubatch = uint32_t(ppl_ctx);
      cp.n_threads = cp.n_threads_batch = threads;
      llama_context* ctx = llama_init_from_model(model, cp);
      if (!ctx || !Decode(ctx, win, 0, true)) {
        std::fprintf(stderr, "t81_peer: llama_decode failed\n");
        return 1;
      }
      for (size_t i = 0; i + 1 < win.size(); ++i) {
        const float* l = llama_get_logits_ith(ctx, int32_t(i));
        float mx = l[0];
        for (int v = 1; v < n_vocab; ++v) mx = l[v] > mx ? l[v] : mx;
        double sum = 0;
        for (int v = 0; v < n_vocab; ++v) sum += std::exp(double(l[v] - mx));
        nll += std::log(sum) - double(l[win[i + 1]] - mx);
        ++scored;
      }
      ++windows;
      llama_free(ctx);
      if (b + size_t(ppl_ctx) >= ids.size()) break;
    }
    std::printf("windows %ld n_scored %ld mean_nll %.6f ppl %.4f\n", windows, scored, nll / double(scored),
                std::exp(nll / double(scored)));
    llama_model_free(model);
    return 0;
  }
  if (ids.empty() == text.empty()) {
    std::fprintf(stderr, "t81_peer: give --ids or --text\n");
    return 2;
  }
  llama_model* model = LoadModel(bins, model_path, /*vocab_only=*/false);
  if (!model) return 1;
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const int n_vocab = llama_vocab_n_tokens(vocab);
  if (!text.empty()) {
    ids.resize(text.size() + 8);
    const int n = llama_tokenize(vocab, text.c_str(), int32_t(text.size()), ids.data(), int32_t(ids.size()), false, false);
    if (n <= 0) {
      std::fprintf(stderr, "t81_peer: tokenization failed\n");
      return 1;
    }
    ids.resize(size_t(n));
  }
  auto make_ctx = [&] {
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = uint32_t(ids.size() + size_t(gen) + 8);
    cp.n_batch = cp.n_ubatch = cp.n_ctx;
    cp.n_threads = cp.n_threads_batch = threads;
    cp.no_perf = false;
    return llama_init_from_model(model, cp);
  };
  llama_context* ctx = make_ctx();
  if (!ctx || !Decode(ctx, ids, 0, true)) {
    std::fprintf(stderr, "t81_peer: llama_decode failed\n");
    return 1;
  }
  int nonfinite = 0;
  std::vector<float> logits(ids.size() * size_t(n_vocab));
  for (size_t i = 0; i < ids.size(); ++i) {
    const float* l = llama_get_logits_ith(ctx, int32_t(i));
    std::memcpy(logits.data() + i * size_t(n_vocab), l, size_t(n_vocab) * 4);
  }
  for (float v : logits) nonfinite += !(v == v) || v > 3e38f || v < -3e38f;
  double nll = 0;
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    const float* l = logits.data() + i * size_t(n_vocab);
    float mx = l[0];
    for (int v = 1; v < n_vocab; ++v) mx = l[v] > mx ? l[v] : mx;
    double sum = 0;
    for (int v = 0; v < n_vocab; ++v) sum += std::exp(double(l[v] - mx));
    nll += std::log(sum) - double(l[ids[i + 1]] - mx);
  }
  const double mean_nll = ids.size() > 1 ? nll / double(ids.size() - 1) : 0.0;
  std::printf("n_vocab %d n_tokens %zu nonfinite %d mean_nll %.6f ppl %.4f\n", n_vocab, ids.size(), nonfinite, mean_nll,
              std::exp(mean_nll));
  if (!out.empty()) {
    FILE* f = std::fopen(out.c_str(), "wb");
    if (!f || std::fwrite(logits.data(), 4, logits.size(), f) != logits.size()) {
      std::fprintf(stderr, "t81_peer: cannot write %s\n", out.c_str());
      return 1;
    }
    std::fclose(f);
  }
  llama_free(ctx);
  for (int r = 0; r < runs && gen > 0; ++r) {
    ctx = make_ctx();
    const auto t0 = std::chrono::steady_clock::now();
    Decode(ctx, ids, 0, false);
    const auto t1 = std::chrono::steady_clock::now();
    int pos = int(ids.size());
    for (int g = 0; g < gen; ++g) {
      const float* l = llama_get_logits_ith(ctx, -1);
      llama_token best = 0;
      for (int v = 1; v < n_vocab; ++v)
        if (l[v] > l[best]) best = v;
      if (!Decode(ctx, {best}, pos++, false)) return 1;
    }
    const auto t2 = std::chrono::steady_clock::now();
    std::printf("run %d prompt_ms %.3f eval_ms_per_token %.4f\n", r, Ms(t0, t1), Ms(t1, t2) / gen);
    llama_free(ctx);
  }
  llama_model_free(model);
  return nonfinite ? 1 : 0;
}
