// Perplexity of a causal LM over a token sequence, with the sliding-window protocol of
// transformers' perplexity guide: windows of ctx tokens starting every stride tokens; each window
// scores only the tokens no earlier window scored (all of them when stride == ctx), each with the
// window's earlier tokens as context. prefix (e.g. BOS, when the tokenizer adds one) starts every
// window and takes part of its ctx positions. Runs the inference path (KV cache, chunks of rows):
// memory is linear in ctx.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "t81/base/status.h"
#include "t81/models/decoder.h"

namespace t81::models {

struct PerplexityOptions {
  int64_t ctx = 0;     // window length in tokens, prefix included; 0: the model's context, at most 1024
  int64_t stride = 0;  // 0: ctx - prefix (disjoint windows)
  std::vector<int64_t> prefix;
};

struct PerplexityResult {
  int64_t ctx = 0, stride = 0, windows = 0;
  int64_t n_tokens = 0;  // tokens scored
  double nll = 0;        // mean negative log-likelihood per scored token (nats)
  double ppl = 0;        // exp(nll)
  double seconds = 0;
};

// progress(windows done, windows in all, tokens scored so far, nll sum so far), may be empty.
using PerplexityProgress = std::function<void(int64_t, int64_t, int64_t, double)>;
Result<PerplexityResult> Perplexity(DecoderLM& m, const std::vector<int64_t>& tokens, const PerplexityOptions& opt,
                                    const PerplexityProgress& progress = {});

}  // namespace t81::models
