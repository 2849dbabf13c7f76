// The inference scoring path (DecoderLM::ScoreTokens, KV cache in chunks of rows) against
// PyTorch's golden logits of every decoder fixture, and the sliding-window protocol of
// models::Perplexity against a direct computation from those logits.
#include "t81/models/perplexity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "../test_util.h"
#include "t81/io/safetensors.h"

namespace t81::models {
namespace {

// -log softmax(logits)[target] in double.
double Nll(const float* l, int64_t V, int64_t target) {
  double mx = l[0];
  for (int64_t v = 1; v < V; ++v) mx = std::max(mx, double(l[v]));
  double s = 0;
  for (int64_t v = 0; v < V; ++v) s += std::exp(double(l[v]) - mx);
  return mx + std::log(s) - double(l[target]);
}

class PerplexityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PerplexityTest, ScoreTokensMatchesPyTorchLogits) {
  const std::string dir = t81::testing::Fixture(GetParam());
  auto m = DecoderLM::Load(dir).value();
  auto g = io::SafeTensorsFile::Open(dir + "/golden.safetensors").value();
  const std::vector<int64_t> ids = g->ReadInt("input.input_ids").value();
  const std::vector<float> logits = g->ReadFloat("logits").value();
  const auto& shape = g->Find("input.input_ids")->shape;
  const int64_t B = shape[0], T = shape[1], V = m->config().V;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t* row = ids.data() + b * T;
    for (int64_t first : {int64_t(1), T / 2, T - 1}) {
      double want = 0;
      for (int64_t t = first; t < T; ++t) want += Nll(logits.data() + (b * T + t - 1) * V, V, row[t]);
      double nll = 0;
      int64_t n = 0;
      ASSERT_TRUE(m->ScoreTokens(row, T, first, &nll, &n).ok());
      EXPECT_EQ(n, T - first);
      EXPECT_NEAR(nll, want, 1e-4 * double(T - first)) << "row " << b << " first " << first;
    }
  }
  double nll = 0;
  int64_t n = 0;
  EXPECT_FALSE(m->ScoreTokens(ids.data(), T, 0, &nll, &n).ok());  // position 0 has no context
  std::vector<int64_t> bad(ids.begin(), ids.begin() + T);
  bad[3] = V;
  EXPECT_FALSE(m->ScoreTokens(bad.data(), T, 1, &nll, &n).ok());
}

// Windows: ctx 6 (with a one-token prefix: 5 text tokens per window), stride 2 over a row of 16
// tokens. Each text token t >= 1 is scored exactly once, with the context its window gives.
TEST_P(PerplexityTest, SlidingWindowsScoreEveryTokenOnce) {
  const std::string dir = t81::testing::Fixture(GetParam());
  auto m = DecoderLM::Load(dir).value();
  auto g = io::SafeTensorsFile::Open(dir + "/golden.safetensors").value();
  const std::vector<int64_t> ids = g->ReadInt("input.input_ids").value();
  const int64_t T = g->Find("input.input_ids")->shape[1];
  const std::vector<int64_t> text(ids.begin(), ids.begin() + T);
  for (bool with_prefix : {false, true}) {
    PerplexityOptions opt;
    opt.ctx = 6;
    opt.stride = 2;
    if (with_prefix) opt.prefix = {ids[size_t(T)]};  // any id: stands in for BOS
    const int64_t W = opt.ctx - int64_t(opt.prefix.size());
    auto r = Perplexity(*m, text, opt);
    ASSERT_TRUE(r.ok()) << r.status().message();
    // Direct: the same windows, scored one by one.
    double want = 0;
    int64_t count = 0, prev_end = 0;
    for (int64_t b = 0;; b += 2) {
      const int64_t e = std::min(T, b + W);
      std::vector<int64_t> win = opt.prefix;
      win.insert(win.end(), text.begin() + b, text.begin() + e);
      const int64_t P = int64_t(opt.prefix.size());
      for (int64_t t = std::max<int64_t>(prev_end, P == 0 ? b + 1 : b); t < e; ++t) {
        double nll = 0;
        int64_t n = 0;
        const int64_t pos = P + (t - b);
        ASSERT_TRUE(m->ScoreTokens(win.data(), pos + 1, pos, &nll, &n).ok());
        want += nll;
        count += n;
      }
      prev_end = e;
      if (e == T) break;
    }
    EXPECT_EQ(r->n_tokens, with_prefix ? T : T - 1);
    EXPECT_EQ(r->n_tokens, count);
    EXPECT_NEAR(r->nll * double(r->n_tokens), want, 1e-4 * double(count));
    EXPECT_NEAR(r->ppl, std::exp(r->nll), 1e-9 * r->ppl);
  }
  PerplexityOptions bad;
  bad.ctx = m->config().max_t + 1;
  EXPECT_FALSE(Perplexity(*m, text, bad).ok());
  bad.ctx = 8;
  bad.stride = 9;
  EXPECT_FALSE(Perplexity(*m, text, bad).ok());
  EXPECT_FALSE(Perplexity(*m, {text[0]}, {}).ok());
}

// Sampling: temperature 0 is Generate's greedy output; a seed fixes the sampled text; top-k 1
// is greedy at any temperature.
TEST_P(PerplexityTest, GenerateStreamSampling) {
  auto m = DecoderLM::Load(t81::testing::Fixture(GetParam())).value();
  const std::vector<int64_t> prompt = {1, 5, 9, 13};
  const std::vector<int64_t> greedy = m->Generate(prompt, 8).value();
  auto run = [&](DecoderLM::Sampling sp) {
    std::vector<int64_t> seen;
    auto r = m->GenerateStream(prompt, 8, sp, [&](int64_t id) {
      seen.push_back(id);
      return true;
    });
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(seen, r.value());
    return r.value();
  };
  std::vector<int64_t> g(greedy.begin() + 4, greedy.end());
  EXPECT_EQ(run({}), g);
  DecoderLM::Sampling hot;
  hot.temperature = 1.5;
  hot.seed = 7;
  const auto a = run(hot), b = run(hot);
  EXPECT_EQ(a, b);
  hot.seed = 8;
  EXPECT_NE(run(hot), a);  // 8 draws over a 1024-token vocabulary at temperature 1.5
  DecoderLM::Sampling k1 = hot;
  k1.top_k = 1;
  EXPECT_EQ(run(k1), g);
  DecoderLM::Sampling stop;
  stop.stop_id = g[2];
  const auto first = std::find(g.begin(), g.end(), g[2]);  // tiny models repeat themselves
  EXPECT_EQ(run(stop), std::vector<int64_t>(g.begin(), first + 1));
  DecoderLM::Sampling bad;
  bad.top_p = 0;
  EXPECT_FALSE(m->GenerateStream(prompt, 2, bad, [](int64_t) { return true; }).ok());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PerplexityTest, ::testing::Values("gpt2-tiny", "llama-tiny", "phi3-tiny"),
                         [](const auto& info) { return t81::testing::ParamName(info.param); });

}  // namespace
}  // namespace t81::models
