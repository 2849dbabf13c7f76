// DecoderLM inference with a per-block KV cache (nn::BlockDecode): greedy Generate (benchmarks),
// GenerateStream (sampling, tokens as they come) and ScoreTokens (perplexity).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "t81/base/timer.h"
#include "t81/models/decoder.h"

namespace t81::models {

// Rows per chunk: prompts and scored windows go through packed GEMMs kChunk rows at a time.
constexpr int64_t kChunk = 64;

Status DecoderLM::CheckIds(const int64_t* ids, int64_t n) const {
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= cfg_.V)
      return Error("token id " + std::to_string(ids[i]) + " is outside the model's vocabulary of " + std::to_string(cfg_.V));
  return OkStatus();
}

void DecoderLM::StartInfer(InferState* st, int64_t TC, int64_t R) {
  const DecoderConfig& c = cfg_;
  lin_.Refresh();  // QAT: fake-quantize the current weights
  st->TC = TC;
  st->R = R;
  st->per_block = c.NKV * TC * c.HD;
  st->kc.assign(size_t(c.L * st->per_block), 0.0f);
  st->vc.assign(st->kc.size(), 0.0f);
  st->x.assign(size_t(R * c.C), 0.0f);
  st->pos.assign(size_t(R), 0);
  st->s.Reserve(block_, R, TC);
}

void DecoderLM::InferChunk(InferState* st, const int64_t* ids, int64_t p0, int64_t n) {
  const DecoderConfig& c = cfg_;
  const int64_t C = c.C;
  T81_CHECK(n <= st->R && p0 + n <= st->TC);
  for (int64_t r = 0; r < n; ++r) {
    st->pos[size_t(r)] = p0 + r;
    float* xr = st->x.data() + r * C;
    EmbedRow(ids[r], xr);
    if (c.learned_pos()) {
      const float* wpe = P(off_wpe_) + (p0 + r) * C;
      for (int64_t i = 0; i < C; ++i) xr[i] += wpe[i];
    }
  }
  const nn::Positions positions = Positions(st->pos.data(), st->TC);
  for (int64_t l = 0; l < c.L; ++l)
    nn::BlockDecode(block_, Block(l), lin_, l, st->x.data(), n, p0, positions, st->kc.data() + l * st->per_block,
                    st->vc.data() + l * st->per_block, st->TC, &st->s);
}

Result<std::vector<int64_t>> DecoderLM::Generate(const std::vector<int64_t>& prompt, int64_t n_new,
                                                 GenTiming* timing, std::vector<float>* all_logits) {
  T81_ASSIGN_OR_RETURN(std::vector<int64_t> fresh,
                       GenerateStream(prompt, n_new, Sampling{}, [](int64_t) { return true; }, timing, all_logits));
  std::vector<int64_t> out = prompt;
  out.insert(out.end(), fresh.begin(), fresh.end());
  return out;
}

namespace {

// The next token from logits (V) under sp (greedy when temperature is 0).
int64_t Pick(std::vector<float>& logits, const DecoderLM::Sampling& sp, std::mt19937_64& rng) {
  const int64_t V = int64_t(logits.size());
  if (sp.temperature <= 0.0) return std::max_element(logits.begin(), logits.end()) - logits.begin();
  std::vector<int64_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  const int64_t k = sp.top_k > 0 ? std::min(sp.top_k, V) : V;
  // Most likely first (ties by id), the first k of them.
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int64_t a, int64_t b) { return logits[size_t(a)] > logits[size_t(b)] || (logits[size_t(a)] == logits[size_t(b)] && a < b); });
  order.resize(size_t(k));
  const double mx = logits[size_t(order[0])];
  std::vector<double> p(order.size());
  double sum = 0;
  for (size_t i = 0; i < order.size(); ++i) sum += p[i] = std::exp((double(logits[size_t(order[i])]) - mx) / sp.temperature);
  size_t keep = order.size();
  if (sp.top_p < 1.0) {
    double acc = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      acc += p[i] / sum;
      if (acc >= sp.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += p[i];
  // One uniform draw from the seeded generator (the same on every platform: mt19937_64 is fully
  // specified; the draw is made from its raw 64 bits, not a library distribution).
  const double u = double(rng() >> 11) * (1.0 / 9007199254740992.0) * total;
  double acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += p[i];
    if (u < acc) return order[i];
  }
  return order[keep - 1];
}

}  // namespace

Result<std::vector<int64_t>> DecoderLM::GenerateStream(const std::vector<int64_t>& prompt, int64_t n_new,
                                                       const Sampling& sp, const std::function<bool(int64_t)>& on_token,
                                                       GenTiming* timing, std::vector<float>* all_logits) {
  const DecoderConfig& c = cfg_;
  if (prompt.empty()) return Error("empty prompt");
  if (n_new < 0) return Error("negative number of new tokens (" + std::to_string(n_new) + ")");
  if (int64_t(prompt.size()) + n_new > c.max_t)
    return Error("prompt + new tokens (" + std::to_string(prompt.size() + size_t(n_new)) + ") exceed the model's " +
                 std::to_string(c.max_t) + " positions");
  T81_RETURN_IF_ERROR(CheckIds(prompt.data(), int64_t(prompt.size())));
  if (sp.temperature < 0 || !(sp.top_p > 0 && sp.top_p <= 1) || sp.top_k < 0)
    return Error("sampling needs temperature >= 0, 0 < top-p <= 1 and top-k >= 0");
  // The prompt in chunks of up to kChunk rows, then one new token at a time; every row is
  // computed exactly as alone (nn::BlockDecode).
  const int64_t NP = int64_t(prompt.size());
  InferState st;
  StartInfer(&st, NP + n_new, std::min(NP, kChunk));
  std::vector<float> h(size_t(c.C)), mean(1), rstd(1), logits(size_t(c.V));
  std::mt19937_64 rng(sp.seed);
  std::vector<int64_t> out;
  if (all_logits) all_logits->clear();
  const double t_start = base::NowSeconds();
  double t_prompt = t_start;
  int64_t next = -1;
  for (int64_t p0 = 0; p0 < NP + n_new && int64_t(out.size()) < n_new;) {
    const int64_t n = p0 < NP ? std::min(kChunk, NP - p0) : 1;
    InferChunk(&st, p0 < NP ? prompt.data() + p0 : &next, p0, n);
    p0 += n;
    if (p0 < NP) continue;  // inside the prompt: only fill the cache
    FinalNorm(h.data(), mean.data(), rstd.data(), st.x.data() + (n - 1) * c.C, 1);
    Head(logits.data(), h.data(), 1);
    if (all_logits) all_logits->insert(all_logits->end(), logits.begin(), logits.end());
    next = Pick(logits, sp, rng);
    out.push_back(next);
    if (p0 == NP) t_prompt = base::NowSeconds();  // the first new token is the prompt's output
    if (!on_token(next) || next == sp.stop_id) break;
  }
  if (timing) {
    timing->prompt_s = t_prompt - t_start;
    timing->eval_s = base::NowSeconds() - t_prompt;
  }
  return out;
}

Status DecoderLM::ScoreTokens(const int64_t* ids, int64_t n, int64_t first, double* nll, int64_t* scored) {
  const DecoderConfig& c = cfg_;
  if (n < 2 || first < 1 || first >= n) return Error("nothing to score (window of " + std::to_string(n) + " tokens)");
  if (n > c.max_t)
    return Error("window of " + std::to_string(n) + " tokens exceeds the model's " + std::to_string(c.max_t) + " positions");
  T81_RETURN_IF_ERROR(CheckIds(ids, n));
  InferState st;
  StartInfer(&st, n, std::min(n, kChunk));
  std::vector<float> h(size_t(st.R * c.C)), mean(size_t(st.R)), rstd(size_t(st.R)), logits(size_t(st.R * c.V));
  for (int64_t p0 = 0; p0 < n - 1; p0 += st.R) {  // row t predicts ids[t + 1]
    const int64_t m = std::min(st.R, n - 1 - p0);
    InferChunk(&st, ids + p0, p0, m);
    if (p0 + m < first) continue;  // no scored target in this chunk
    FinalNorm(h.data(), mean.data(), rstd.data(), st.x.data(), m);
    Head(logits.data(), h.data(), m);
    for (int64_t r = 0; r < m; ++r) {
      const int64_t t = p0 + r + 1;
      if (t < first) continue;
      const float* lr = logits.data() + r * c.V;
      const double mx = *std::max_element(lr, lr + c.V);
      double sum = 0;
      for (int64_t v = 0; v < c.V; ++v) sum += std::exp(double(lr[v]) - mx);
      *nll += (mx + std::log(sum)) - double(lr[ids[t]]);
      ++*scored;
    }
  }
  return OkStatus();
}

}  // namespace t81::models
