// Transformer layer functions (src/t81/nn/transformer.h) against independent double-precision
// references: every forward against a naive double implementation with the PyTorch / Hugging Face
// semantics, every backward against central finite differences (eps 1e-6) of the scalar
// f = Σ dout · reference_forward(inputs), the accumulate (+=) contract of every backward, causal
// masking, the RoPE inverse and AdamW against a hand-written torch.optim.AdamW step.
#include "t81/nn/transformer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <ostream>
#include <string>
#include <vector>

#include "t81/base/rng.h"

namespace t81::nn {
namespace {

using Vec = std::vector<double>;
using Fn = std::function<double(const Vec&)>;

std::vector<float> Random(base::Rng& rng, size_t n, double scale = 1.0, double offset = 0.0) {
  std::vector<float> v(n);
  for (float& x : v) x = float(offset + rng.Normal() * scale);
  return v;
}

Vec ToDouble(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }

double Dot(const std::vector<float>& a, const Vec& b) {
  EXPECT_EQ(a.size(), b.size());
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// Central differences of f around x (double precision).
Vec NumericGrad(const std::vector<float>& x, const Fn& f, double h = 1e-6) {
  Vec xd = ToDouble(x), g(x.size());
  for (size_t i = 0; i < xd.size(); ++i) {
    const double save = xd[i];
    xd[i] = save + h;
    const double fp = f(xd);
    xd[i] = save - h;
    const double fm = f(xd);
    xd[i] = save;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

// Analytic (float) against numeric (double) gradient: elementwise, relative to the element and
// to the largest gradient entry. Also requires the gradient to be non-trivial.
void ExpectGradNear(const std::vector<float>& analytic, const Vec& numeric, const std::string& what,
                    double rtol = 1e-4) {
  ASSERT_EQ(analytic.size(), numeric.size()) << what;
  double scale = 0;
  for (double n : numeric) scale = std::max(scale, std::fabs(n));
  ASSERT_GT(scale, 1e-3) << what << ": numeric gradient is trivially zero";
  int bad = 0;
  for (size_t i = 0; i < numeric.size(); ++i) {
    const double tol = rtol * std::fabs(numeric[i]) + 0.2 * rtol * scale;
    if (std::fabs(double(analytic[i]) - numeric[i]) > tol && ++bad <= 5)
      ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic[i] << " numeric " << numeric[i];
  }
  EXPECT_EQ(bad, 0) << what;
}

void ExpectNearVec(const std::vector<float>& got, const Vec& ref, double rtol, double atol,
                   const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    if (!(std::fabs(double(got[i]) - ref[i]) <= atol + rtol * std::fabs(ref[i])) && ++bad <= 5)
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << " want " << ref[i];
  EXPECT_EQ(bad, 0) << what;
}

// d-buffers prefilled with `base` and a backward run once more must hold base + grad.
void ExpectAccumulated(const std::vector<float>& accumulated, const std::vector<float>& base,
                       const std::vector<float>& grad, const std::string& what) {
  ASSERT_EQ(accumulated.size(), grad.size());
  for (size_t i = 0; i < grad.size(); ++i)
    EXPECT_NEAR(accumulated[i], base[i] + grad[i], 1e-5 * (1 + std::fabs(base[i]) + std::fabs(grad[i])))
        << what << "[" << i << "]";
}

// ---------------------------------------------------------------------------------------------
// Double-precision references.

Vec RefLayerNorm(const Vec& x, const Vec& w, const Vec* b, int64_t N, int64_t C, double eps,
                 Vec* mean = nullptr, Vec* rstd = nullptr) {
  Vec out(size_t(N * C));
  if (mean) mean->assign(size_t(N), 0);
  if (rstd) rstd->assign(size_t(N), 0);
  for (int64_t i = 0; i < N; ++i) {
    double m = 0;
    for (int64_t c = 0; c < C; ++c) m += x[size_t(i * C + c)];
    m /= double(C);
    double var = 0;  // biased, as torch
    for (int64_t c = 0; c < C; ++c) var += (x[size_t(i * C + c)] - m) * (x[size_t(i * C + c)] - m);
    var /= double(C);
    const double s = 1.0 / std::sqrt(var + eps);
    for (int64_t c = 0; c < C; ++c)
      out[size_t(i * C + c)] = (x[size_t(i * C + c)] - m) * s * w[size_t(c)] + (b ? (*b)[size_t(c)] : 0.0);
    if (mean) (*mean)[size_t(i)] = m;
    if (rstd) (*rstd)[size_t(i)] = s;
  }
  return out;
}

Vec RefRmsNorm(const Vec& x, const Vec& w, int64_t N, int64_t C, double eps, Vec* rstd = nullptr) {
  Vec out(size_t(N * C));
  if (rstd) rstd->assign(size_t(N), 0);
  for (int64_t i = 0; i < N; ++i) {
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += x[size_t(i * C + c)] * x[size_t(i * C + c)];
    const double r = 1.0 / std::sqrt(ss / double(C) + eps);
    for (int64_t c = 0; c < C; ++c) out[size_t(i * C + c)] = w[size_t(c)] * x[size_t(i * C + c)] * r;
    if (rstd) (*rstd)[size_t(i)] = r;
  }
  return out;
}

double RefGeluTanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
}
double RefGeluErf(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

Vec RefSwiGlu(const Vec& inp, int64_t N, int64_t F) {
  Vec out(size_t(N * F));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < F; ++j) {
      const double g = inp[size_t(i * 2 * F + j)], u = inp[size_t(i * 2 * F + F + j)];
      out[size_t(i * F + j)] = g / (1.0 + std::exp(-g)) * u;
    }
  return out;
}

// HF rotate_half RoPE in double, applied to H heads of each row; other entries copied.
Vec RefRope(const Vec& x, int64_t N, int64_t H, int64_t HD, int64_t stride, const int64_t* pos,
            double theta) {
  Vec out = x;
  const int64_t half = HD / 2;
  for (int64_t r = 0; r < N; ++r)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < half; ++i) {
        const double angle = double(pos[r]) * std::pow(theta, -2.0 * double(i) / double(HD));
        const size_t a = size_t(r * stride + h * HD + i), b = a + size_t(half);
        out[a] = x[a] * std::cos(angle) - x[b] * std::sin(angle);
        out[b] = x[b] * std::cos(angle) + x[a] * std::sin(angle);
      }
  return out;
}

// softmax(q·k / sqrt(HD)) v per query head; query head h reads kv head h / (NH / NKV) (HF repeat_kv).
Vec RefAttention(const Vec& qkv, int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HD, bool causal,
                 Vec* att = nullptr) {
  const int64_t W = (NH + 2 * NKV) * HD;
  Vec out(size_t(B * T * NH * HD), 0.0);
  if (att) att->assign(size_t(B * NH * T * T), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h) {
      const int64_t g = h / (NH / NKV);
      for (int64_t t = 0; t < T; ++t) {
        const int64_t last = causal ? t : T - 1;
        Vec s(size_t(last + 1));
        double mx = -1e300;
        for (int64_t u = 0; u <= last; ++u) {
          double d = 0;
          for (int64_t i = 0; i < HD; ++i)
            d += qkv[size_t((b * T + t) * W + h * HD + i)] * qkv[size_t((b * T + u) * W + (NH + g) * HD + i)];
          s[size_t(u)] = d / std::sqrt(double(HD));
          mx = std::max(mx, s[size_t(u)]);
        }
        double sum = 0;
        for (double& v : s) sum += (v = std::exp(v - mx));
        for (int64_t u = 0; u <= last; ++u) {
          const double p = s[size_t(u)] / sum;
          if (att) (*att)[size_t(((b * NH + h) * T + t) * T + u)] = p;
          for (int64_t i = 0; i < HD; ++i)
            out[size_t((b * T + t) * NH * HD + h * HD + i)] +=
                p * qkv[size_t((b * T + u) * W + (NH + NKV + g) * HD + i)];
        }
      }
    }
  return out;
}

// Mean over counted positions of -log softmax(logits[b, t])[labels[b, t + 1]].
double RefCausalLoss(const Vec& logits, const std::vector<int64_t>& labels, int64_t B, int64_t T, int64_t V,
                     int64_t* count = nullptr) {
  double loss = 0;
  int64_t n = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + 1 < T; ++t) {
      const int64_t y = labels[size_t(b * T + t + 1)];
      if (y == -100) continue;
      const double* l = logits.data() + (b * T + t) * V;
      double mx = *std::max_element(l, l + V), sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += std::exp(l[v] - mx);
      loss += mx + std::log(sum) - l[y];
      ++n;
    }
  if (count) *count = n;
  return n ? loss / double(n) : 0.0;
}

// ---------------------------------------------------------------------------------------------
// LayerNorm

TEST(LayerNorm, ForwardMatchesTorchSemantics) {
  base::Rng rng(1);
  constexpr int64_t N = 4, C = 7;
  const float eps = 1e-5f;
  const auto x = Random(rng, N * C, 2.0, 3.0), w = Random(rng, C), b = Random(rng, C);
  std::vector<float> out(N * C), mean(N), rstd(N);
  LayerNormForward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C, eps);
  Vec rm, rr;
  const Vec bd = ToDouble(b);
  const Vec ref = RefLayerNorm(ToDouble(x), ToDouble(w), &bd, N, C, eps, &rm, &rr);
  ExpectNearVec(out, ref, 1e-5, 1e-6, "out");
  ExpectNearVec(mean, rm, 1e-6, 1e-6, "mean");
  ExpectNearVec(rstd, rr, 1e-6, 0, "rstd");
}

TEST(LayerNorm, ForwardHandValues) {
  // x = (1, 2, 3, 4): mean 2.5, biased variance 1.25; weight 2, bias 1.
  const float x[4] = {1, 2, 3, 4}, w[4] = {2, 2, 2, 2}, b[4] = {1, 1, 1, 1};
  float out[4], mean[1], rstd[1];
  LayerNormForward(out, mean, rstd, x, w, b, 1, 4, 0.0f);
  const double s = 1.0 / std::sqrt(1.25);
  EXPECT_NEAR(mean[0], 2.5, 1e-7);
  EXPECT_NEAR(rstd[0], s, 1e-6);
  for (int c = 0; c < 4; ++c) EXPECT_NEAR(out[c], (x[c] - 2.5) * s * 2 + 1, 1e-6) << c;
}

TEST(LayerNorm, EpsIsInsideTheSqrt) {
  // Constant rows: variance 0, so rstd = 1/sqrt(eps) exactly when eps sits inside the sqrt.
  const float x[3] = {5, 5, 5}, w[3] = {1, 1, 1};
  float out[3], mean[1], rstd[1];
  LayerNormForward(out, mean, rstd, x, w, nullptr, 1, 3, 0.25f);
  EXPECT_NEAR(rstd[0], 2.0, 1e-6);
  for (float o : out) EXPECT_EQ(o, 0.0f);
}

TEST(LayerNorm, NullBiasEqualsZeroBias) {
  base::Rng rng(2);
  constexpr int64_t N = 3, C = 5;
  const auto x = Random(rng, N * C), w = Random(rng, C);
  const std::vector<float> zero(C, 0.0f);
  std::vector<float> o1(N * C), o2(N * C), m(N), r(N);
  LayerNormForward(o1.data(), m.data(), r.data(), x.data(), w.data(), nullptr, N, C, 1e-5f);
  LayerNormForward(o2.data(), m.data(), r.data(), x.data(), w.data(), zero.data(), N, C, 1e-5f);
  EXPECT_EQ(o1, o2);
  // Backward without dbias: dinp and dweight as with one.
  const auto dout = Random(rng, N * C);
  std::vector<float> di1(N * C, 0), dw1(C, 0), di2(N * C, 0), dw2(C, 0), db2(C, 0);
  LayerNormBackward(di1.data(), dw1.data(), nullptr, dout.data(), x.data(), w.data(), m.data(), r.data(), N, C);
  LayerNormBackward(di2.data(), dw2.data(), db2.data(), dout.data(), x.data(), w.data(), m.data(), r.data(), N, C);
  EXPECT_EQ(di1, di2);
  EXPECT_EQ(dw1, dw2);
}

TEST(LayerNorm, BackwardMatchesFiniteDifferences) {
  base::Rng rng(3);
  constexpr int64_t N = 4, C = 7;
  const double eps = 1e-5;
  const auto x = Random(rng, N * C, 1.5, -1.0), w = Random(rng, C), b = Random(rng, C);
  const auto dout = Random(rng, N * C);
  std::vector<float> out(N * C), mean(N), rstd(N);
  LayerNormForward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C, float(eps));
  std::vector<float> dx(N * C, 0), dw(C, 0), db(C, 0);
  LayerNormBackward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), mean.data(), rstd.data(), N, C);

  const Vec xd = ToDouble(x), wd = ToDouble(w), bd = ToDouble(b);
  ExpectGradNear(dx, NumericGrad(x, [&](const Vec& v) { return Dot(dout, RefLayerNorm(v, wd, &bd, N, C, eps)); }), "dinp");
  ExpectGradNear(dw, NumericGrad(w, [&](const Vec& v) { return Dot(dout, RefLayerNorm(xd, v, &bd, N, C, eps)); }), "dweight");
  ExpectGradNear(db, NumericGrad(b, [&](const Vec& v) { return Dot(dout, RefLayerNorm(xd, wd, &v, N, C, eps)); }), "dbias");

  // Accumulation: into prefilled buffers, and a second call doubles the gradient.
  const auto bx = Random(rng, N * C), bw = Random(rng, C), bb = Random(rng, C);
  auto ax = bx, aw = bw, ab = bb;
  LayerNormBackward(ax.data(), aw.data(), ab.data(), dout.data(), x.data(), w.data(), mean.data(), rstd.data(), N, C);
  ExpectAccumulated(ax, bx, dx, "dinp");
  ExpectAccumulated(aw, bw, dw, "dweight");
  ExpectAccumulated(ab, bb, db, "dbias");
  auto tx = dx, tw = dw, tb = db;
  LayerNormBackward(tx.data(), tw.data(), tb.data(), dout.data(), x.data(), w.data(), mean.data(), rstd.data(), N, C);
  for (int64_t i = 0; i < N * C; ++i) EXPECT_FLOAT_EQ(tx[size_t(i)], 2 * dx[size_t(i)]);
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_FLOAT_EQ(tw[size_t(c)], 2 * dw[size_t(c)]);
    EXPECT_FLOAT_EQ(tb[size_t(c)], 2 * db[size_t(c)]);
  }
}

// ---------------------------------------------------------------------------------------------
// RMSNorm

TEST(RmsNorm, ForwardMatchesLlamaRmsNorm) {
  base::Rng rng(4);
  constexpr int64_t N = 5, C = 6;
  const double eps = 1e-6;
  const auto x = Random(rng, N * C, 2.0, 0.5), w = Random(rng, C);
  std::vector<float> out(N * C), rstd(N);
  RmsNormForward(out.data(), rstd.data(), x.data(), w.data(), N, C, float(eps));
  Vec rr;
  const Vec ref = RefRmsNorm(ToDouble(x), ToDouble(w), N, C, eps, &rr);
  ExpectNearVec(out, ref, 1e-5, 1e-6, "out");
  ExpectNearVec(rstd, rr, 1e-6, 0, "rstd");
  // Hand values: x = (3, 4), mean square 12.5, weight (1, 2), eps 0.
  const float hx[2] = {3, 4}, hw[2] = {1, 2};
  float ho[2], hr[1];
  RmsNormForward(ho, hr, hx, hw, 1, 2, 0.0f);
  EXPECT_NEAR(hr[0], 1 / std::sqrt(12.5), 1e-7);
  EXPECT_NEAR(ho[0], 3 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(ho[1], 8 / std::sqrt(12.5), 1e-6);
}

TEST(RmsNorm, BackwardMatchesFiniteDifferences) {
  base::Rng rng(5);
  constexpr int64_t N = 4, C = 6;
  const double eps = 1e-5;
  const auto x = Random(rng, N * C, 1.2, 0.3), w = Random(rng, C), dout = Random(rng, N * C);
  std::vector<float> out(N * C), rstd(N);
  RmsNormForward(out.data(), rstd.data(), x.data(), w.data(), N, C, float(eps));
  std::vector<float> dx(N * C, 0), dw(C, 0);
  RmsNormBackward(dx.data(), dw.data(), dout.data(), x.data(), w.data(), rstd.data(), N, C);
  const Vec xd = ToDouble(x), wd = ToDouble(w);
  ExpectGradNear(dx, NumericGrad(x, [&](const Vec& v) { return Dot(dout, RefRmsNorm(v, wd, N, C, eps)); }), "dinp");
  ExpectGradNear(dw, NumericGrad(w, [&](const Vec& v) { return Dot(dout, RefRmsNorm(xd, v, N, C, eps)); }), "dweight");

  const auto bx = Random(rng, N * C), bw = Random(rng, C);
  auto ax = bx, aw = bw;
  RmsNormBackward(ax.data(), aw.data(), dout.data(), x.data(), w.data(), rstd.data(), N, C);
  ExpectAccumulated(ax, bx, dx, "dinp");
  ExpectAccumulated(aw, bw, dw, "dweight");
  auto tx = dx, tw = dw;
  RmsNormBackward(tx.data(), tw.data(), dout.data(), x.data(), w.data(), rstd.data(), N, C);
  for (size_t i = 0; i < tx.size(); ++i) EXPECT_FLOAT_EQ(tx[i], 2 * dx[i]);
  for (size_t i = 0; i < tw.size(); ++i) EXPECT_FLOAT_EQ(tw[i], 2 * dw[i]);
}

// ---------------------------------------------------------------------------------------------
// GELU

struct GeluCase {
  const char* name;
  void (*fwd)(float*, const float*, int64_t);
  void (*bwd)(float*, const float*, const float*, int64_t);
  double (*ref)(double);
};
void PrintTo(const GeluCase& c, std::ostream* os) { *os << c.name; }

class Gelu : public ::testing::TestWithParam<GeluCase> {};

TEST_P(Gelu, ForwardMatchesReference) {
  const GeluCase& g = GetParam();
  std::vector<float> x;
  for (int i = -60; i <= 60; ++i) x.push_back(float(i) / 10.0f);  // [-6, 6]
  std::vector<float> out(x.size());
  g.fwd(out.data(), x.data(), int64_t(x.size()));
  Vec ref(x.size());
  for (size_t i = 0; i < x.size(); ++i) ref[i] = g.ref(x[i]);
  // Float implementations: 1 + tanh(u) cancels for x << 0, so allow a small absolute error.
  ExpectNearVec(out, ref, 2e-6, 5e-7, g.name);
  // In place (out aliases inp).
  std::vector<float> inplace = x;
  g.fwd(inplace.data(), inplace.data(), int64_t(x.size()));
  EXPECT_EQ(inplace, out);
}

TEST_P(Gelu, BackwardMatchesFiniteDifferences) {
  const GeluCase& g = GetParam();
  base::Rng rng(6);
  constexpr int64_t n = 64;
  const auto x = Random(rng, n, 2.5), dout = Random(rng, n);
  std::vector<float> dx(n, 0);
  g.bwd(dx.data(), x.data(), dout.data(), n);
  ExpectGradNear(dx, NumericGrad(x, [&](const Vec& v) {
                   double s = 0;
                   for (size_t i = 0; i < v.size(); ++i) s += dout[i] * g.ref(v[i]);
                   return s;
                 }),
                 g.name);
  const auto base_v = Random(rng, n);
  auto acc = base_v;
  g.bwd(acc.data(), x.data(), dout.data(), n);
  ExpectAccumulated(acc, base_v, dx, g.name);
}

INSTANTIATE_TEST_SUITE_P(Transformer, Gelu,
                         ::testing::Values(GeluCase{"tanh", GeluTanhForward, GeluTanhBackward, RefGeluTanh},
                                           GeluCase{"erf", GeluErfForward, GeluErfBackward, RefGeluErf}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(GeluHandValues, KnownPoints) {
  const float x[3] = {0.0f, 1.0f, -2.0f};
  float t[3], e[3];
  GeluTanhForward(t, x, 3);
  GeluErfForward(e, x, 3);
  EXPECT_EQ(t[0], 0.0f);
  EXPECT_EQ(e[0], 0.0f);
  EXPECT_NEAR(e[1], 0.8413447460685429, 1e-6);   // Φ(1)
  EXPECT_NEAR(t[1], 0.8411919906082768, 1e-6);   // tanh approximation
  EXPECT_NEAR(e[2], -0.04550026389635842, 1e-6);
  EXPECT_NEAR(t[2], -0.04540230591222494, 1e-6);
  // The two forms differ by more than that tolerance, so each is really the one named.
  EXPECT_GT(std::fabs(e[2] - t[2]), 5e-5);
}

// ---------------------------------------------------------------------------------------------
// SwiGLU

TEST(SwiGlu, ForwardAndBackward) {
  base::Rng rng(7);
  constexpr int64_t N = 3, F = 5;
  const auto inp = Random(rng, N * 2 * F, 2.0), dout = Random(rng, N * F);
  std::vector<float> out(N * F);
  SwiGluForward(out.data(), inp.data(), N, F);
  ExpectNearVec(out, RefSwiGlu(ToDouble(inp), N, F), 1e-6, 1e-7, "out");
  // Hand value: gate 1, up 2 -> silu(1)·2 = 2 / (1 + e^-1).
  const float h[2] = {1.0f, 2.0f};
  float ho[1];
  SwiGluForward(ho, h, 1, 1);
  EXPECT_NEAR(ho[0], 2.0 / (1.0 + std::exp(-1.0)), 1e-6);

  std::vector<float> dinp(N * 2 * F, 0);
  SwiGluBackward(dinp.data(), inp.data(), dout.data(), N, F);
  ExpectGradNear(dinp, NumericGrad(inp, [&](const Vec& v) { return Dot(dout, RefSwiGlu(v, N, F)); }), "dinp");
  const auto bv = Random(rng, N * 2 * F);
  auto acc = bv;
  SwiGluBackward(acc.data(), inp.data(), dout.data(), N, F);
  ExpectAccumulated(acc, bv, dinp, "dinp");
}

// ---------------------------------------------------------------------------------------------
// RoPE

constexpr int64_t kRopeN = 6, kRopeH = 2, kRopeHD = 8, kRopeStride = 3 * kRopeHD, kRopeMaxT = 12;
constexpr double kRopeTheta = 100.0;
const int64_t kRopePos[kRopeN] = {0, 3, 1, 11, 2, 7};

TEST(Rope, TableMatchesAngles) {
  const RopeTable rope(kRopeHD, kRopeMaxT, kRopeTheta);
  ASSERT_EQ(rope.cos.size(), size_t(kRopeMaxT * kRopeHD / 2));
  ASSERT_EQ(rope.sin.size(), size_t(kRopeMaxT * kRopeHD / 2));
  for (int64_t p = 0; p < kRopeMaxT; ++p)
    for (int64_t i = 0; i < kRopeHD / 2; ++i) {
      const double a = double(p) * std::pow(kRopeTheta, -2.0 * double(i) / double(kRopeHD));
      EXPECT_NEAR(rope.cos[size_t(p * kRopeHD / 2 + i)], std::cos(a), 1e-5) << p << " " << i;
      EXPECT_NEAR(rope.sin[size_t(p * kRopeHD / 2 + i)], std::sin(a), 1e-5) << p << " " << i;
    }
}

TEST(Rope, ForwardMatchesRotateHalf) {
  base::Rng rng(8);
  const RopeTable rope(kRopeHD, kRopeMaxT, kRopeTheta);
  const auto x = Random(rng, kRopeN * kRopeStride);
  auto y = x;
  RopeForward(y.data(), kRopeN, kRopeH, kRopeHD, kRopeStride, kRopePos, rope);
  const Vec ref = RefRope(ToDouble(x), kRopeN, kRopeH, kRopeHD, kRopeStride, kRopePos, kRopeTheta);
  ExpectNearVec(y, ref, 1e-5, 1e-5, "rope");
  // The third head of each row (outside H) is untouched; position 0 is the identity.
  for (int64_t r = 0; r < kRopeN; ++r)
    for (int64_t i = 2 * kRopeHD; i < kRopeStride; ++i)
      EXPECT_EQ(y[size_t(r * kRopeStride + i)], x[size_t(r * kRopeStride + i)]);
  for (int64_t i = 0; i < kRopeH * kRopeHD; ++i) EXPECT_EQ(y[size_t(i)], x[size_t(i)]);
  // Hand value: HD 2, one pair, theta^0 = 1, position 1: (1, 0) -> (cos 1, sin 1).
  const RopeTable r2(2, 4, 10000.0);
  float v[2] = {1.0f, 0.0f};
  const int64_t p1 = 1;
  RopeForward(v, 1, 1, 2, 2, &p1, r2);
  EXPECT_NEAR(v[0], std::cos(1.0), 1e-6);
  EXPECT_NEAR(v[1], std::sin(1.0), 1e-6);
}

TEST(Rope, BackwardIsTheInverseRotation) {
  base::Rng rng(9);
  const RopeTable rope(kRopeHD, kRopeMaxT, kRopeTheta);
  const auto x = Random(rng, kRopeN * kRopeStride);
  auto y = x;
  RopeForward(y.data(), kRopeN, kRopeH, kRopeHD, kRopeStride, kRopePos, rope);
  RopeBackward(y.data(), kRopeN, kRopeH, kRopeHD, kRopeStride, kRopePos, rope);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], x[i], 1e-5) << i;
}

TEST(Rope, BackwardMatchesFiniteDifferences) {
  base::Rng rng(10);
  const RopeTable rope(kRopeHD, kRopeMaxT, kRopeTheta);
  const auto x = Random(rng, kRopeN * kRopeStride);
  auto dout = Random(rng, kRopeN * kRopeStride);
  const auto upstream = dout;
  // The gradient of Σ dout · rope(x) w.r.t. x, computed in place in dout.
  RopeBackward(dout.data(), kRopeN, kRopeH, kRopeHD, kRopeStride, kRopePos, rope);
  ExpectGradNear(dout, NumericGrad(x, [&](const Vec& v) {
                   return Dot(upstream, RefRope(v, kRopeN, kRopeH, kRopeHD, kRopeStride, kRopePos, kRopeTheta));
                 }),
                 "dx", 2e-4);
}

// ---------------------------------------------------------------------------------------------
// Attention

struct AttnCase {
  int64_t B, T, NH, NKV, HD;
  bool causal;
};
void PrintTo(const AttnCase& c, std::ostream* os) {
  *os << "B" << c.B << " T" << c.T << " NH" << c.NH << " NKV" << c.NKV << " HD" << c.HD << (c.causal ? " causal" : " full");
}

std::string AttnName(const ::testing::TestParamInfo<AttnCase>& info) {
  const AttnCase& c = info.param;
  return "NH" + std::to_string(c.NH) + "_NKV" + std::to_string(c.NKV) + (c.causal ? "_causal" : "_full");
}

class Attention : public ::testing::TestWithParam<AttnCase> {};

TEST_P(Attention, ForwardMatchesReference) {
  const AttnCase c = GetParam();
  base::Rng rng(11);
  const int64_t W = (c.NH + 2 * c.NKV) * c.HD;
  const auto qkv = Random(rng, c.B * c.T * W);
  std::vector<float> out(c.B * c.T * c.NH * c.HD), att(c.B * c.NH * c.T * c.T, -1.0f);
  AttentionForward(out.data(), att.data(), qkv.data(), c.B, c.T, c.NH, c.NKV, c.HD, c.causal);
  Vec ref_att;
  const Vec ref = RefAttention(ToDouble(qkv), c.B, c.T, c.NH, c.NKV, c.HD, c.causal, &ref_att);
  ExpectNearVec(out, ref, 1e-5, 1e-6, "out");
  ExpectNearVec(att, ref_att, 1e-5, 1e-7, "att");  // includes the zeros above the diagonal
  for (int64_t row = 0; row < c.B * c.NH * c.T; ++row) {
    double s = 0;
    for (int64_t u = 0; u < c.T; ++u) s += att[size_t(row * c.T + u)];
    EXPECT_NEAR(s, 1.0, 1e-6) << row;
  }
}

TEST_P(Attention, BackwardMatchesFiniteDifferences) {
  const AttnCase c = GetParam();
  base::Rng rng(12);
  const int64_t W = (c.NH + 2 * c.NKV) * c.HD;
  const auto qkv = Random(rng, c.B * c.T * W), dout = Random(rng, c.B * c.T * c.NH * c.HD);
  std::vector<float> out(c.B * c.T * c.NH * c.HD), att(c.B * c.NH * c.T * c.T);
  AttentionForward(out.data(), att.data(), qkv.data(), c.B, c.T, c.NH, c.NKV, c.HD, c.causal);
  std::vector<float> dqkv(qkv.size(), 0.0f);
  AttentionBackward(dqkv.data(), dout.data(), qkv.data(), att.data(), c.B, c.T, c.NH, c.NKV, c.HD, c.causal);
  ExpectGradNear(dqkv, NumericGrad(qkv, [&](const Vec& v) {
                   return Dot(dout, RefAttention(v, c.B, c.T, c.NH, c.NKV, c.HD, c.causal));
                 }),
                 "dqkv");
  // Every k and v head receives gradient (each kv head is read by NH / NKV query heads).
  for (int64_t g = 0; g < 2 * c.NKV; ++g) {
    double norm = 0;
    for (int64_t r = 0; r < c.B * c.T; ++r)
      for (int64_t i = 0; i < c.HD; ++i) norm += std::fabs(dqkv[size_t(r * W + (c.NH + g) * c.HD + i)]);
    EXPECT_GT(norm, 0.0) << "kv head " << g;
  }
  // Accumulation into a prefilled buffer.
  const auto bv = Random(rng, qkv.size());
  auto acc = bv;
  AttentionBackward(acc.data(), dout.data(), qkv.data(), att.data(), c.B, c.T, c.NH, c.NKV, c.HD, c.causal);
  ExpectAccumulated(acc, bv, dqkv, "dqkv");
  auto twice = dqkv;
  AttentionBackward(twice.data(), dout.data(), qkv.data(), att.data(), c.B, c.T, c.NH, c.NKV, c.HD, c.causal);
  for (size_t i = 0; i < twice.size(); ++i)
    EXPECT_NEAR(twice[i], 2 * dqkv[i], 1e-5 * (1 + std::fabs(dqkv[i]))) << i;
}

INSTANTIATE_TEST_SUITE_P(Transformer, Attention,
                         ::testing::Values(AttnCase{2, 5, 3, 3, 4, true},   // multi-head
                                           AttnCase{2, 5, 4, 2, 4, true},   // grouped-query
                                           AttnCase{2, 5, 4, 1, 4, true},   // multi-query
                                           AttnCase{2, 5, 4, 2, 4, false},  // non-causal (ViT)
                                           AttnCase{1, 19, 2, 1, 16, false},  // T past a vector's width
                                           AttnCase{1, 21, 2, 2, 8, true}),
                         AttnName);

TEST(AttentionCausal, FutureTokensDoNotChangeEarlierOutputs) {
  constexpr int64_t B = 2, T = 5, NH = 4, NKV = 2, HD = 4, W = (NH + 2 * NKV) * HD;
  base::Rng rng(13);
  const auto qkv = Random(rng, B * T * W);
  std::vector<float> out(B * T * NH * HD), att(B * NH * T * T);
  AttentionForward(out.data(), att.data(), qkv.data(), B, T, NH, NKV, HD);
  // Upper triangle of the probabilities is exactly zero.
  for (int64_t bh = 0; bh < B * NH; ++bh)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t u = t + 1; u < T; ++u) EXPECT_EQ(att[size_t((bh * T + t) * T + u)], 0.0f);
  // Change the keys and values (every kv head) of token 3 in sequence 1.
  constexpr int64_t kB = 1, kT = 3;
  auto changed = qkv;
  for (int64_t i = NH * HD; i < W; ++i) changed[size_t((kB * T + kT) * W + i)] += 1.5f;
  std::vector<float> out2(out.size()), att2(att.size());
  AttentionForward(out2.data(), att2.data(), changed.data(), B, T, NH, NKV, HD);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      bool same = true;
      for (int64_t i = 0; i < NH * HD; ++i) same &= out[size_t((b * T + t) * NH * HD + i)] == out2[size_t((b * T + t) * NH * HD + i)];
      if (b == kB && t >= kT) EXPECT_FALSE(same) << "b " << b << " t " << t << " should see token " << kT;
      else EXPECT_TRUE(same) << "b " << b << " t " << t << " must not see token " << kT;
    }
}

// ---------------------------------------------------------------------------------------------
// Causal LM loss

TEST(CausalLmLoss, HandValue) {
  // Uniform logits over V = 4: every counted position costs ln 4. Label 0 is never used (shift);
  // position 0 predicts labels[1] = 1, position 1 predicts labels[2] = 2, position 2 nothing.
  constexpr int64_t B = 1, T = 3, V = 4;
  const std::vector<float> logits(B * T * V, 0.0f);
  const std::vector<int64_t> labels = {-100, 1, 2};
  std::vector<float> probs(B * T * V, -1.0f);
  int64_t count = -1;
  const double loss = CausalLmLossForward(probs.data(), logits.data(), labels.data(), B, T, V, &count);
  EXPECT_EQ(count, 2);
  EXPECT_NEAR(loss, std::log(4.0), 1e-7);
  std::vector<float> d(B * T * V, 0.0f);
  CausalLmLossBackward(d.data(), probs.data(), labels.data(), B, T, V, count);
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t v = 0; v < V; ++v)
      EXPECT_NEAR(d[size_t(t * V + v)], (0.25 - (v == labels[size_t(t + 1)] ? 1.0 : 0.0)) / 2.0, 1e-7) << t << " " << v;
  for (int64_t v = 0; v < V; ++v) EXPECT_EQ(d[size_t(2 * V + v)], 0.0f);
  // A second hand value: logits (0, ln 3) and target 1 -> -log(3/4).
  const std::vector<float> l2 = {0.0f, float(std::log(3.0)), 0.0f, 0.0f};
  const std::vector<int64_t> y2 = {0, 1};
  std::vector<float> p2(4);
  int64_t c2 = 0;
  EXPECT_NEAR(CausalLmLossForward(p2.data(), l2.data(), y2.data(), 1, 2, 2, &c2), -std::log(0.75), 1e-6);
  EXPECT_EQ(c2, 1);
}

TEST(CausalLmLoss, ForwardAndBackwardWithIgnoredLabels) {
  constexpr int64_t B = 2, T = 5, V = 7;
  base::Rng rng(14);
  const auto logits = Random(rng, B * T * V, 2.0);
  // Counted: b0 t0 (1), t2 (6), t3 (0); b1 t0 (2), t1 (5), t3 (4). labels[b, 0] never counts.
  const std::vector<int64_t> labels = {3, 1, -100, 6, 0, -100, 2, 5, -100, 4};
  std::vector<float> probs(B * T * V, 0.0f);
  int64_t count = 0;
  const double loss = CausalLmLossForward(probs.data(), logits.data(), labels.data(), B, T, V, &count);
  int64_t ref_count = 0;
  const double ref = RefCausalLoss(ToDouble(logits), labels, B, T, V, &ref_count);
  EXPECT_EQ(count, 6);
  EXPECT_EQ(ref_count, 6);
  EXPECT_NEAR(loss, ref, 1e-5 * ref);
  // Saved probabilities at counted positions are the softmax.
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + 1 < T; ++t) {
      if (labels[size_t(b * T + t + 1)] == -100) continue;
      const float* l = logits.data() + (b * T + t) * V;
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) sum += std::exp(double(l[v]));
      for (int64_t v = 0; v < V; ++v)
        EXPECT_NEAR(probs[size_t((b * T + t) * V + v)], std::exp(double(l[v])) / sum, 1e-6);
    }
  // The first label of each sequence is not a target: changing it changes nothing.
  auto labels2 = labels;
  labels2[0] = 5;
  labels2[5] = 0;
  int64_t count2 = 0;
  std::vector<float> probs2(probs.size());
  EXPECT_NEAR(CausalLmLossForward(probs2.data(), logits.data(), labels2.data(), B, T, V, &count2), loss, 1e-12);
  EXPECT_EQ(count2, count);

  // Backward against finite differences of the mean loss, with prefilled (accumulated) buffers.
  const auto base_v = Random(rng, B * T * V);
  auto dl = base_v;
  CausalLmLossBackward(dl.data(), probs.data(), labels.data(), B, T, V, count);
  std::vector<float> grad(dl.size());
  for (size_t i = 0; i < dl.size(); ++i) grad[i] = dl[i] - base_v[i];
  const Vec num = NumericGrad(logits, [&](const Vec& v) { return RefCausalLoss(v, labels, B, T, V); });
  ExpectGradNear(grad, num, "dlogits", 1e-4);
  // Ignored positions and the last position receive nothing: the prefill is untouched exactly.
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const bool counted = t + 1 < T && labels[size_t(b * T + t + 1)] != -100;
      if (counted) continue;
      for (int64_t v = 0; v < V; ++v)
        EXPECT_EQ(dl[size_t((b * T + t) * V + v)], base_v[size_t((b * T + t) * V + v)]) << b << " " << t;
    }
}

TEST(CausalLmLoss, AllIgnored) {
  constexpr int64_t B = 1, T = 3, V = 3;
  const std::vector<float> logits = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<int64_t> labels = {1, -100, -100};
  std::vector<float> probs(9);
  int64_t count = -1;
  EXPECT_EQ(CausalLmLossForward(probs.data(), logits.data(), labels.data(), B, T, V, &count), 0.0);
  EXPECT_EQ(count, 0);
  std::vector<float> d(9, 0.5f);
  CausalLmLossBackward(d.data(), probs.data(), labels.data(), B, T, V, count);
  for (float x : d) EXPECT_EQ(x, 0.5f);
}

// ---------------------------------------------------------------------------------------------
// AdamW

// torch.optim.AdamW (single tensor, foreach=False) in double.
void TorchAdamW(Vec& p, const Vec& g, Vec& m, Vec& v, double lr, double b1, double b2, double eps, double wd,
                int step) {
  for (size_t i = 0; i < p.size(); ++i) {
    p[i] *= 1 - lr * wd;
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
    const double mhat = m[i] / (1 - std::pow(b1, step));
    const double vhat = v[i] / (1 - std::pow(b2, step));
    p[i] -= lr * mhat / (std::sqrt(vhat) + eps);
  }
}

class AdamW : public ::testing::TestWithParam<float> {};

TEST_P(AdamW, TwoStepsMatchTorch) {
  const float wd = GetParam();
  const float lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  constexpr int64_t n = 9;
  base::Rng rng(15);
  auto p = Random(rng, n), g1 = Random(rng, n, 0.1), g2 = Random(rng, n, 0.3);
  g2[3] = 0.0f;  // a zero gradient on step 2 still moves the parameter (momentum)
  std::vector<float> m(n, 0.0f), v(n, 0.0f);
  Vec rp = ToDouble(p), rm(n, 0.0), rv(n, 0.0);
  AdamWUpdate(p.data(), g1.data(), m.data(), v.data(), n, lr, b1, b2, eps, wd, 1);
  TorchAdamW(rp, ToDouble(g1), rm, rv, lr, b1, b2, eps, wd, 1);
  ExpectNearVec(p, rp, 1e-6, 1e-7, "param step 1");
  ExpectNearVec(m, rm, 1e-6, 1e-9, "m step 1");
  ExpectNearVec(v, rv, 1e-5, 1e-12, "v step 1");
  AdamWUpdate(p.data(), g2.data(), m.data(), v.data(), n, lr, b1, b2, eps, wd, 2);
  TorchAdamW(rp, ToDouble(g2), rm, rv, lr, b1, b2, eps, wd, 2);
  ExpectNearVec(p, rp, 1e-6, 1e-7, "param step 2");
  ExpectNearVec(m, rm, 1e-6, 1e-9, "m step 2");
  ExpectNearVec(v, rv, 1e-5, 1e-12, "v step 2");
}

INSTANTIATE_TEST_SUITE_P(Transformer, AdamW, ::testing::Values(0.0f, 0.1f),
                         [](const auto& info) { return info.param == 0.0f ? std::string("NoDecay") : std::string("Decay"); });

TEST(AdamWHand, FirstStepIsSignStep) {
  // Step 1: mhat = g, vhat = g², so p -= lr · g / (|g| + eps) ≈ lr · sign(g).
  float p[2] = {1.0f, 1.0f};
  const float g[2] = {0.5f, -2.0f};
  float m[2] = {0, 0}, v[2] = {0, 0};
  AdamWUpdate(p, g, m, v, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 1);
  EXPECT_NEAR(p[0], 0.9, 1e-6);
  EXPECT_NEAR(p[1], 1.1, 1e-6);
  EXPECT_NEAR(m[0], 0.05, 1e-7);
  EXPECT_NEAR(v[1], 0.004, 1e-7);  // 1 - 0.999f in float is 0.00099998713
  // With weight decay 0.5 the parameter is first scaled by 1 - 0.1 · 0.5 = 0.95.
  float q[1] = {1.0f}, mq[1] = {0}, vq[1] = {0};
  const float gq[1] = {0.5f};
  AdamWUpdate(q, gq, mq, vq, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, 1);
  EXPECT_NEAR(q[0], 0.85, 1e-6);
}

}  // namespace
}  // namespace t81::nn
