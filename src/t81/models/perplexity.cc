#include "t81/models/perplexity.h"

#include <algorithm>
#include <cmath>

#include "t81/base/timer.h"

namespace t81::models {

Result<PerplexityResult> Perplexity(DecoderLM& m, const std::vector<int64_t>& tokens, const PerplexityOptions& opt,
                                    const PerplexityProgress& progress) {
  const int64_t P = int64_t(opt.prefix.size()), n = int64_t(tokens.size());
  PerplexityResult r;
  r.ctx = opt.ctx > 0 ? opt.ctx : std::min<int64_t>(m.config().max_t, 1024);
  if (r.ctx > m.config().max_t)
    return Error("--ctx " + std::to_string(r.ctx) + " exceeds the model's " + std::to_string(m.config().max_t) + " positions");
  const int64_t W = r.ctx - P;  // text tokens per window
  if (W < 2) return Error("--ctx " + std::to_string(r.ctx) + " leaves fewer than 2 text tokens per window");
  r.stride = opt.stride > 0 ? opt.stride : W;
  if (r.stride > W) return Error("--stride " + std::to_string(r.stride) + " is longer than a window's " + std::to_string(W) + " text tokens");
  if (n < (P > 0 ? 1 : 2)) return Error("the text has " + std::to_string(n) + " tokens: nothing to score");
  // Window starts: 0, stride, 2·stride, ... until a window reaches the end.
  std::vector<int64_t> starts;
  for (int64_t b = 0;; b += r.stride) {
    starts.push_back(b);
    if (b + W >= n) break;
  }
  const double t0 = base::NowSeconds();
  std::vector<int64_t> win;
  double nll = 0;
  int64_t prev_end = 0;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t b = starts[i], e = std::min(n, b + W);
    win.assign(opt.prefix.begin(), opt.prefix.end());
    win.insert(win.end(), tokens.begin() + b, tokens.begin() + e);
    // Score tokens [prev_end, e) of the text: window positions P + (prev_end - b) on, and never
    // position 0 (it has no context).
    const int64_t first = std::max<int64_t>(1, P + (prev_end - b));
    if (first < int64_t(win.size())) T81_RETURN_IF_ERROR(m.ScoreTokens(win.data(), int64_t(win.size()), first, &nll, &r.n_tokens));
    prev_end = e;
    ++r.windows;
    if (progress) progress(r.windows, int64_t(starts.size()), r.n_tokens, nll);
  }
  r.seconds = base::NowSeconds() - t0;
  r.nll = nll / double(r.n_tokens);
  r.ppl = std::exp(r.nll);
  return r;
}

}  // namespace t81::models
