// DecoderLM::Generate: greedy decoding with a per-block KV cache (nn::BlockDecode).
#include <algorithm>

#include "t81/base/timer.h"
#include "t81/models/decoder.h"

namespace t81::models {

Result<std::vector<int64_t>> DecoderLM::Generate(const std::vector<int64_t>& prompt, int64_t n_new,
                                                 GenTiming* timing, std::vector<float>* all_logits) {
  const DecoderConfig& c = cfg_;
  if (prompt.empty()) return Error("empty prompt");
  if (n_new < 0) return Error("negative number of new tokens (" + std::to_string(n_new) + ")");
  if (int64_t(prompt.size()) + n_new > c.max_t)
    return Error("prompt + new tokens (" + std::to_string(prompt.size() + size_t(n_new)) + ") exceed the model's " +
                 std::to_string(c.max_t) + " positions");
  for (int64_t id : prompt)
    if (id < 0 || id >= c.V) return Error("prompt id " + std::to_string(id) + " is outside the vocabulary");
  lin_.Refresh();  // QAT: fake-quantize the current weights
  // Tokens go through the model in chunks at positions [p0, p0 + n): the prompt in chunks of up
  // to kChunk (packed GEMMs instead of one GEMV per token and weight), then one new token at a
  // time. Every row is computed exactly as alone (nn::BlockDecode).
  constexpr int64_t kChunk = 64;
  const int64_t C = c.C, NP = int64_t(prompt.size());
  const int64_t R = std::min(NP, kChunk);  // rows of the chunk buffers
  // KV cache (L, NKV, TC, HD) for the TC = prompt + new positions this call can reach.
  const int64_t TC = NP + n_new, per_block = c.NKV * TC * c.HD;
  std::vector<float> kc(size_t(c.L * per_block)), vc(kc.size());
  nn::DecodeScratch s;
  s.Reserve(block_, R, TC);
  std::vector<float> x(static_cast<size_t>(R * C)), h(static_cast<size_t>(C)), mean(1), rstd(1),
      logits(static_cast<size_t>(c.V));
  std::vector<int64_t> pos(static_cast<size_t>(R));
  const nn::Positions positions = Positions(pos.data(), TC);
  std::vector<int64_t> out = prompt;
  out.reserve(size_t(NP + n_new));
  if (all_logits) all_logits->clear();
  const double t_start = base::NowSeconds();
  double t_prompt = t_start;
  for (int64_t p0 = 0; p0 < int64_t(out.size()) && int64_t(out.size()) < NP + n_new;) {
    const int64_t n = p0 < NP ? std::min(kChunk, NP - p0) : 1;
    for (int64_t r = 0; r < n; ++r) {
      pos[size_t(r)] = p0 + r;
      EmbedRow(out[size_t(p0 + r)], x.data() + r * C);
      if (c.learned_pos()) {
        const float* wpe = P(off_wpe_) + (p0 + r) * C;
        for (int64_t i = 0; i < C; ++i) x[size_t(r * C + i)] += wpe[i];
      }
    }
    for (int64_t l = 0; l < c.L; ++l)
      nn::BlockDecode(block_, Block(l), lin_, l, x.data(), n, p0, positions, kc.data() + l * per_block,
                      vc.data() + l * per_block, TC, &s);
    p0 += n;
    if (p0 < NP) continue;  // inside the prompt: only fill the cache
    // The next token from the chunk's last row.
    FinalNorm(h.data(), mean.data(), rstd.data(), x.data() + (n - 1) * C, 1);
    Head(logits.data(), h.data(), 1);
    out.push_back(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (all_logits) all_logits->insert(all_logits->end(), logits.begin(), logits.end());
    if (p0 == NP) t_prompt = base::NowSeconds();  // the first new token is the prompt's output
  }
  if (timing) {
    timing->prompt_s = t_prompt - t_start;
    timing->eval_s = base::NowSeconds() - t_prompt;
  }
  return out;
}

}  // namespace t81::models
