// The transformer block (src/t81/nn/block.h): BlockBackward against central finite differences of
// BlockForward along random directions (every parameter tensor and the input, for each norm /
// activation / position / bias combination, with and without stochastic depth), a block whose
// branches are all dropped passes its input through, the first-rows block (a classifier's last)
// against the full block, the cached-attention op against full causal
// attention, and BlockDecode (chunked, with a KV cache) against BlockForward over the whole sequence.
#include "t81/nn/block.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "t81/base/rng.h"

namespace t81::nn {
namespace {

std::vector<float> Random(base::Rng& rng, size_t n, double scale = 1.0) {
  std::vector<float> v(n);
  for (float& x : v) x = float(rng.Normal() * scale);
  return v;
}

struct Case {
  const char* name;
  Norm norm;
  Activation act;
  bool causal, rope, bias;
  int64_t NH, NKV;
};

BlockConfig ConfigOf(const Case& k) {
  BlockConfig c;
  c.NH = k.NH;
  c.NKV = k.NKV;
  c.HD = 4;
  c.C = c.NH * c.HD;
  c.FF = 12;
  c.norm = k.norm;
  c.act = k.act;
  c.causal = k.causal;
  c.rope = k.rope;
  c.attn_bias = c.mlp_bias = k.bias;
  c.eps = 1e-5f;
  return c;
}

// A block with random parameters (norm weights near 1) bound to float linears.
struct TestBlock {
  BlockConfig c;
  std::vector<float> params, grads;
  BlockParams p, g;
  BlockLinears lin;
  TestBlock(const BlockConfig& cfg, uint64_t seed) : c(cfg) {
    base::Rng rng(seed);
    params = Random(rng, size_t(BlockParamCount(c)), 0.3);
    grads.assign(params.size(), 0.0f);
    p = BlockParamsAt(c, params.data());
    g = BlockParamsAt(c, grads.data());
    for (float* w : {p.ln1_w, p.ln2_w})
      for (int64_t i = 0; i < c.C; ++i) w[i] += 1.0f;
    lin.Bind(c, {p});
  }
};

// The scalar f = Σ r · BlockForward(inp) (with stochastic-depth factors keep, or none).
double Objective(TestBlock& b, const std::vector<float>& inp, const std::vector<float>& r, int64_t B, int64_t T,
                 const Positions& pos, const float* keep) {
  std::vector<float> acts(size_t(BlockActsFloats(b.c, B, T)));
  const BlockActs a = BlockActsAt(b.c, B, T, acts.data());
  BlockForward(b.c, b.p, b.lin, 0, a, inp.data(), B, T, pos, keep);
  double f = 0;
  for (size_t i = 0; i < r.size(); ++i) f += double(r[i]) * a.out[i];
  return f;
}

void CheckBlockGradients(const Case& k, const float* keep);

class BlockGrad : public ::testing::TestWithParam<Case> {};

TEST_P(BlockGrad, BackwardMatchesFiniteDifferences) {
  // Without stochastic depth, then with: sample 0 drops its attention branch and keeps its MLP
  // at 1/(1 − 0.3); sample 1 keeps attention at 1/(1 − 0.2) and drops its MLP.
  const float kKeep[4] = {0.0f, 1.25f, 1.0f / 0.7f, 0.0f};
  for (const float* keep : {static_cast<const float*>(nullptr), kKeep}) {
    SCOPED_TRACE(keep ? "stochastic depth" : "plain");
    CheckBlockGradients(GetParam(), keep);
  }
}

// Stochastic depth with every branch dropped leaves the input as it is.
TEST(BlockForward, DroppedBranchesPassTheInputThrough) {
  const BlockConfig c = ConfigOf({"vit", Norm::kLayerNorm, Activation::kGeluErf, false, false, true, 2, 2});
  const int64_t B = 2, T = 3;
  TestBlock b(c, 5);
  base::Rng rng(6);
  const std::vector<float> inp = Random(rng, size_t(B * T * c.C));
  std::vector<float> acts(size_t(BlockActsFloats(c, B, T)));
  const BlockActs a = BlockActsAt(c, B, T, acts.data());
  const float none[4] = {0, 0, 0, 0};
  BlockForward(c, b.p, b.lin, 0, a, inp.data(), B, T, {}, none);
  EXPECT_EQ(std::vector<float>(a.out, a.out + inp.size()), inp);
}

void CheckBlockGradients(const Case& k, const float* keep) {
  const BlockConfig c = ConfigOf(k);
  const int64_t B = 2, T = 5, N = B * T;
  TestBlock b(c, 3);
  base::Rng rng(4);
  std::vector<float> inp = Random(rng, size_t(N * c.C)), r = Random(rng, size_t(N * c.C));
  std::vector<int64_t> pos(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) pos[size_t(i)] = i % T;
  const RopeTable rope(c.HD, T, 10000.0);
  const Positions positions{pos.data(), c.rope ? &rope : nullptr};

  std::vector<float> acts(size_t(BlockActsFloats(c, B, T)));
  const BlockActs a = BlockActsAt(c, B, T, acts.data());
  BlockForward(c, b.p, b.lin, 0, a, inp.data(), B, T, positions, keep);
  std::vector<float> dinp = r;  // d f / d out = r
  BlockGradScratch s;
  BlockBackward(c, b.p, b.g, b.lin, 0, a, inp.data(), dinp.data(), B, T, positions, &s, keep);

  // Directional derivatives: (f(x + h·d) − f(x − h·d)) / 2h against <grad, d>, for the input and
  // for every parameter tensor on its own.
  auto check = [&](const char* what, float* x, const float* grad, int64_t n) {
    if (!x) return;
    for (int trial = 0; trial < 2; ++trial) {
      const std::vector<float> d = Random(rng, size_t(n));
      const std::vector<float> save(x, x + n);
      const double h = 1e-2;
      for (int64_t i = 0; i < n; ++i) x[i] = float(save[size_t(i)] + h * d[size_t(i)]);
      const double fp = Objective(b, inp, r, B, T, positions, keep);
      for (int64_t i = 0; i < n; ++i) x[i] = float(save[size_t(i)] - h * d[size_t(i)]);
      const double fm = Objective(b, inp, r, B, T, positions, keep);
      std::copy(save.begin(), save.end(), x);
      double analytic = 0, norm = 0;
      for (int64_t i = 0; i < n; ++i) {
        analytic += double(grad[i]) * d[size_t(i)];
        norm += double(grad[i]) * grad[i];
      }
      const double numeric = (fp - fm) / (2 * h);
      EXPECT_GT(norm, 0.0) << what << ": zero gradient";
      EXPECT_NEAR(analytic, numeric, 2e-3 * std::sqrt(norm * double(n)) + 1e-4) << what << " trial " << trial;
    }
  };
  check("inp", inp.data(), dinp.data(), N * c.C);
  const BlockParams& p = b.p;
  const BlockParams& g = b.g;
  check("ln1_w", p.ln1_w, g.ln1_w, c.C);
  check("ln1_b", p.ln1_b, g.ln1_b, c.C);
  check("ln2_w", p.ln2_w, g.ln2_w, c.C);
  check("ln2_b", p.ln2_b, g.ln2_b, c.C);
  for (BlockLinear k : kBlockLinears) {
    const std::string name = BlockLinearName(k);
    check((name + ".weight").c_str(), p.weight(k), g.weight(k), LinearRows(c, k) * LinearCols(c, k));
    check((name + ".bias").c_str(), p.bias(k), g.bias(k), LinearRows(c, k));
  }
}

const Case kCases[] = {
    {"gpt2", Norm::kLayerNorm, Activation::kGeluTanh, true, false, true, 2, 2},
    {"llama_gqa", Norm::kRmsNorm, Activation::kSwiGlu, true, true, false, 4, 2},
    {"vit", Norm::kLayerNorm, Activation::kGeluErf, false, false, true, 2, 2},
    {"llama_bias", Norm::kRmsNorm, Activation::kSwiGlu, true, true, true, 2, 1},
};
INSTANTIATE_TEST_SUITE_P(Blocks, BlockGrad, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Cached attention, fed in chunks, equals full causal attention row by row; the cache holds each
// row's keys and values at its position, per head.
// BlockForwardFirstRows / BlockBackwardFirstRows against the full block with a gradient only at
// the rows t = 0: the same outputs there, the same d inp everywhere and the same parameter
// gradients (to float rounding: the attention row is summed in another order).
TEST(BlockFirstRows, MatchTheFullBlockAtRowZero) {
  const float kKeep[4] = {0.0f, 1.25f, 1.0f / 0.7f, 0.0f};
  for (const Case& k : {Case{"vit", Norm::kLayerNorm, Activation::kGeluErf, false, false, true, 2, 2},
                        Case{"gqa", Norm::kLayerNorm, Activation::kGeluErf, false, false, true, 4, 2}})
    for (const float* keep : {static_cast<const float*>(nullptr), kKeep}) {
      SCOPED_TRACE(std::string(k.name) + (keep ? " with stochastic depth" : ""));
      const BlockConfig c = ConfigOf(k);
      const int64_t B = 2, T = 5, N = B * T, C = c.C;
      TestBlock full(c, 8), first(c, 8);
      base::Rng rng(9);
      const std::vector<float> inp = Random(rng, size_t(N * C)), r = Random(rng, size_t(B * C));
      std::vector<float> acts_full(size_t(BlockActsFloats(c, B, T))), acts_first(acts_full.size());
      const BlockActs af = BlockActsAt(c, B, T, acts_full.data()), a1 = BlockActsAt(c, B, T, acts_first.data());
      BlockForward(c, full.p, full.lin, 0, af, inp.data(), B, T, {}, keep);
      BlockForwardFirstRows(c, first.p, first.lin, 0, a1, inp.data(), B, T, keep);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < C; ++i)
          ASSERT_NEAR(a1.out[b * C + i], af.out[b * T * C + i], 1e-5 * (1 + std::fabs(af.out[b * T * C + i])));
      std::vector<float> d_full(size_t(N * C), 0.0f), d_first(size_t(N * C), 7.0f);  // junk past the B rows
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < C; ++i) d_full[size_t(b * T * C + i)] = d_first[size_t(b * C + i)] = r[size_t(b * C + i)];
      BlockGradScratch s_full, s_first;
      BlockBackward(c, full.p, full.g, full.lin, 0, af, inp.data(), d_full.data(), B, T, {}, &s_full, keep);
      BlockBackwardFirstRows(c, first.p, first.g, first.lin, 0, a1, inp.data(), d_first.data(), B, T, &s_first, keep);
      for (size_t i = 0; i < d_full.size(); ++i) ASSERT_NEAR(d_first[i], d_full[i], 1e-5 * (1 + std::fabs(d_full[i]))) << i;
      double norm = 0;
      for (size_t i = 0; i < full.grads.size(); ++i) {
        norm += std::fabs(full.grads[i]);
        ASSERT_NEAR(first.grads[i], full.grads[i], 1e-5 * (1 + std::fabs(full.grads[i]))) << "parameter " << i;
      }
      EXPECT_GT(norm, 0.0);
    }
}

TEST(AttentionCached, ChunksMatchFullCausalAttention) {
  const int64_t T = 13, NH = 4, NKV = 2, HD = 8, W = (NH + 2 * NKV) * HD, TC = 16;
  base::Rng rng(5);
  const std::vector<float> qkv = Random(rng, size_t(T * W));
  std::vector<float> ref(size_t(T * NH * HD)), att(size_t(NH * T * T));
  AttentionForward(ref.data(), att.data(), qkv.data(), 1, T, NH, NKV, HD, true);
  std::vector<float> kc(size_t(NKV * TC * HD), -7.0f), vc(kc.size(), -7.0f), out(ref.size());
  std::vector<float> scores(size_t(5 * NH * TC));
  int64_t p0 = 0;
  for (int64_t n : {5, 1, 4, 1, 2}) {
    AttentionCachedForward(out.data() + p0 * NH * HD, scores.data(), qkv.data() + p0 * W, kc.data(), vc.data(), TC, p0,
                           n, NH, NKV, HD);
    p0 += n;
  }
  ASSERT_EQ(p0, T);
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(out[i], ref[i], 1e-6 * (1 + std::fabs(ref[i]))) << i;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t g = 0; g < NKV; ++g)
      for (int64_t i = 0; i < HD; ++i) {
        EXPECT_EQ(kc[size_t((g * TC + t) * HD + i)], qkv[size_t(t * W + (NH + g) * HD + i)]);
        EXPECT_EQ(vc[size_t((g * TC + t) * HD + i)], qkv[size_t(t * W + (NH + NKV + g) * HD + i)]);
      }
  // Positions past the sequence were never written.
  EXPECT_EQ(kc[size_t((0 * TC + T) * HD)], -7.0f);
}

// BlockDecode over chunks of a sequence (as generation runs it: a prompt in pieces, then one row
// at a time) gives BlockForward's outputs for the whole sequence.
TEST(BlockDecode, ChunksMatchBlockForward) {
  for (const Case& k : {kCases[0], kCases[1]}) {
    const BlockConfig c = ConfigOf(k);
    const int64_t T = 11, TC = 12;
    TestBlock b(c, 9);
    base::Rng rng(10);
    const std::vector<float> inp = Random(rng, size_t(T * c.C));
    std::vector<int64_t> pos(static_cast<size_t>(T));
    for (int64_t i = 0; i < T; ++i) pos[size_t(i)] = i;
    const RopeTable rope(c.HD, TC, 10000.0);
    std::vector<float> acts(size_t(BlockActsFloats(c, 1, T)));
    const BlockActs a = BlockActsAt(c, 1, T, acts.data());
    BlockForward(c, b.p, b.lin, 0, a, inp.data(), 1, T, {pos.data(), c.rope ? &rope : nullptr});

    std::vector<float> kc(size_t(c.NKV * TC * c.HD)), vc(kc.size());
    DecodeScratch s;
    s.Reserve(c, 4, TC);
    std::vector<float> x = inp;
    int64_t p0 = 0;
    for (int64_t n : {4, 3, 1, 1, 1, 1}) {
      BlockDecode(c, b.p, b.lin, 0, x.data() + p0 * c.C, n, p0, {pos.data() + p0, c.rope ? &rope : nullptr}, kc.data(),
                  vc.data(), TC, &s);
      p0 += n;
    }
    ASSERT_EQ(p0, T);
    double max_err = 0, range = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      max_err = std::max(max_err, double(std::fabs(x[i] - a.out[i])));
      range = std::max(range, double(std::fabs(a.out[i])));
    }
    EXPECT_LE(max_err, 1e-5 * range) << k.name;
  }
}

}  // namespace
}  // namespace t81::nn
