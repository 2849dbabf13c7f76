// Layer functions against double-precision references: LinearForward against a naive loop, the
// backward functions against central finite differences of a double-precision loss, and the
// accumulate (+=) contract of every backward.
#include "t81/nn/layers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "t81/base/rng.h"
#include "t81/kernels/kernels.h"

namespace t81::nn {
namespace {

constexpr int64_t B = 3, C = 5, OC = 4, V = 4;

std::vector<float> Random(base::Rng& rng, size_t n, double scale = 1.0) {
  std::vector<float> v(n);
  for (float& x : v) x = float(rng.Normal() * scale);
  return v;
}

std::vector<double> ToDouble(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Double-precision references.
std::vector<double> RefLinear(const std::vector<double>& x, const std::vector<double>& w,
                              const std::vector<double>& b, int64_t rows, int64_t c, int64_t oc) {
  std::vector<double> out(size_t(rows * oc));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < oc; ++o) {
      double s = b.empty() ? 0.0 : b[size_t(o)];
      for (int64_t i = 0; i < c; ++i) s += x[size_t(r * c + i)] * w[size_t(o * c + i)];
      out[size_t(r * oc + o)] = s;
    }
  return out;
}

double RefXent(const std::vector<double>& logits, const std::vector<int32_t>& y, int64_t rows,
               int64_t v) {
  double loss = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const double* l = logits.data() + r * v;
    const double mx = *std::max_element(l, l + v);
    double s = 0;
    for (int64_t k = 0; k < v; ++k) s += std::exp(l[k] - mx);
    loss += std::log(s) + mx - l[y[size_t(r)]];
  }
  return loss / double(rows);
}

// Central differences of f with respect to each element of p (restored afterwards).
std::vector<double> NumericGrad(std::vector<double>& p, const std::function<double()>& f,
                                double eps = 1e-6) {
  std::vector<double> g(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    const double keep = p[i];
    p[i] = keep + eps;
    const double up = f();
    p[i] = keep - eps;
    const double down = f();
    p[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

void ExpectGradNear(const std::vector<float>& analytic, const std::vector<double>& numeric,
                    const char* what) {
  ASSERT_EQ(analytic.size(), numeric.size()) << what;
  double max_abs = 0;
  for (double v : numeric) max_abs = std::max(max_abs, std::fabs(v));
  ASSERT_GT(max_abs, 1e-3) << what << ": gradient is (nearly) all zero, the check would be vacuous";
  for (size_t i = 0; i < analytic.size(); ++i)
    EXPECT_NEAR(double(analytic[i]), numeric[i], 1e-5 + 1e-4 * std::fabs(numeric[i]))
        << what << "[" << i << "]";
}

struct OneLayer {
  std::vector<float> x, w, b;
  std::vector<int32_t> y;
};

OneLayer MakeOneLayer(uint64_t seed) {
  base::Rng rng(seed);
  OneLayer p;
  p.x = Random(rng, size_t(B * C));
  p.w = Random(rng, size_t(V * C), 0.5);
  p.b = Random(rng, size_t(V), 0.5);
  for (int64_t r = 0; r < B; ++r) p.y.push_back(int32_t(rng.Below(V)));
  return p;
}

TEST(Linear, ForwardMatchesNaiveLoop) {
  base::Rng rng(1);
  for (auto [rows, c, oc] : {std::tuple<int64_t, int64_t, int64_t>{B, C, OC}, {1, 1, 1}, {7, 33, 19},
                             {16, 256, 10}}) {
    const std::vector<float> x = Random(rng, size_t(rows * c)), w = Random(rng, size_t(oc * c)),
                             b = Random(rng, size_t(oc));
    std::vector<float> out(size_t(rows * oc), 123.0f), out_nb(size_t(rows * oc), -7.0f);
    LinearForward(out.data(), x.data(), w.data(), b.data(), rows, c, oc);
    LinearForward(out_nb.data(), x.data(), w.data(), nullptr, rows, c, oc);  // bias null: no read of out
    const std::vector<double> ref = RefLinear(ToDouble(x), ToDouble(w), ToDouble(b), rows, c, oc);
    const std::vector<double> ref_nb = RefLinear(ToDouble(x), ToDouble(w), {}, rows, c, oc);
    for (size_t i = 0; i < out.size(); ++i) {
      const double tol = 1e-5 * (1.0 + double(c));
      EXPECT_NEAR(out[i], ref[i], tol) << rows << "x" << c << "x" << oc << " [" << i << "]";
      EXPECT_NEAR(out_nb[i], ref_nb[i], tol) << rows << "x" << c << "x" << oc << " [" << i << "]";
    }
  }
}

TEST(Linear, ForwardHandComputed) {
  // x = [[1, 2]], W = [[3, 4], [5, 6], [-1, 0]], b = [0.5, 0, 1]  ->  [11.5, 17, 0]
  const float x[] = {1, 2}, w[] = {3, 4, 5, 6, -1, 0}, b[] = {0.5f, 0, 1};
  float out[3];
  LinearForward(out, x, w, b, 1, 2, 3);
  EXPECT_EQ(out[0], 11.5f);
  EXPECT_EQ(out[1], 17.0f);
  EXPECT_EQ(out[2], 0.0f);
}

TEST(Relu, ForwardBackward) {
  const std::vector<float> in = {-2.0f, -0.0f, 0.0f, 1e-30f, 3.5f, -1e-30f};
  std::vector<float> out(in.size());
  ReluForward(out.data(), in.data(), int64_t(in.size()));
  EXPECT_EQ(out, (std::vector<float>{0, 0, 0, 1e-30f, 3.5f, 0}));
  // In place.
  std::vector<float> alias = in;
  ReluForward(alias.data(), alias.data(), int64_t(alias.size()));
  EXPECT_EQ(alias, out);
  // Backward: passes dout where out > 0, accumulates.
  const std::vector<float> dout = {1, 2, 3, 4, 5, 6};
  std::vector<float> din(in.size(), 10.0f);
  ReluBackward(din.data(), dout.data(), out.data(), int64_t(in.size()));
  EXPECT_EQ(din, (std::vector<float>{10, 10, 10, 14, 15, 10}));
}

TEST(SoftmaxCrossEntropy, ForwardMatchesReference) {
  base::Rng rng(2);
  const std::vector<float> logits = Random(rng, size_t(B * V), 3.0);
  const std::vector<int32_t> y = {0, 3, 1};
  std::vector<float> probs(logits.size());
  const double loss = SoftmaxCrossEntropyForward(probs.data(), logits.data(), y.data(), B, V);
  EXPECT_NEAR(loss, RefXent(ToDouble(logits), y, B, V), 1e-6);
  for (int64_t r = 0; r < B; ++r) {
    double s = 0, mx = -1e300;
    for (int64_t k = 0; k < V; ++k) mx = std::max(mx, double(logits[size_t(r * V + k)]));
    for (int64_t k = 0; k < V; ++k) s += std::exp(double(logits[size_t(r * V + k)]) - mx);
    for (int64_t k = 0; k < V; ++k)
      EXPECT_NEAR(probs[size_t(r * V + k)], std::exp(double(logits[size_t(r * V + k)]) - mx) / s, 1e-7);
  }
}

TEST(SoftmaxCrossEntropy, LargeLogitsStayFinite) {
  const float logits[] = {1000.0f, 0.0f, -1000.0f, 999.0f};
  const int32_t y[] = {3};
  float probs[4];
  const double loss = SoftmaxCrossEntropyForward(probs, logits, y, 1, 4);
  ASSERT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, std::log(1.0 + std::exp(-1.0)) + 1.0, 1e-6);
  for (float p : probs) EXPECT_TRUE(std::isfinite(p));
  EXPECT_NEAR(probs[0] + probs[3], 1.0f, 1e-6f);
  // Uniform logits: loss = log V.
  const float flat[] = {-5, -5, -5, -5};
  EXPECT_NEAR(SoftmaxCrossEntropyForward(probs, flat, y, 1, 4), std::log(4.0), 1e-7);
}

// Mixed targets (CutMix): the loss is λ·CE(y1) + (1 − λ)·CE(y2) with smoothing on both, and the
// gradient the same mix of the two single-label gradients; λ = 1 gives the plain loss's bytes.
TEST(SoftmaxCrossEntropy, MixedTargetsWeighTheTwoLabels) {
  base::Rng rng(12);
  const std::vector<float> logits = Random(rng, size_t(B * V), 2.0);
  const std::vector<int32_t> y1 = {0, 3, 1}, y2 = {2, 3, 0};
  const std::vector<float> lam = {0.25f, 0.6f, 1.0f};
  const MixedTargets mix{y2.data(), lam.data()};
  for (const float eps : {0.0f, 0.1f}) {
    std::vector<float> probs(logits.size()), d(logits.size(), 0.0f), d1 = d, d2 = d;
    const double mixed = SoftmaxCrossEntropyForward(probs.data(), logits.data(), y1.data(), B, V, eps, &mix);
    SoftmaxCrossEntropyBackward(d.data(), probs.data(), y1.data(), B, V, 0.5f, eps, &mix);
    SoftmaxCrossEntropyBackward(d1.data(), probs.data(), y1.data(), B, V, 0.5f, eps);
    SoftmaxCrossEntropyBackward(d2.data(), probs.data(), y2.data(), B, V, 0.5f, eps);
    double want = 0;
    for (int64_t r = 0; r < B; ++r) {
      std::vector<float> p(static_cast<size_t>(V));
      const double l1 = SoftmaxCrossEntropyForward(p.data(), logits.data() + r * V, y1.data() + r, 1, V, eps);
      const double l2 = SoftmaxCrossEntropyForward(p.data(), logits.data() + r * V, y2.data() + r, 1, V, eps);
      want += (lam[size_t(r)] * l1 + (1 - lam[size_t(r)]) * l2) / double(B);
      for (int64_t k = 0; k < V; ++k) {
        const size_t i = size_t(r * V + k);
        EXPECT_NEAR(d[i], lam[size_t(r)] * d1[i] + (1 - lam[size_t(r)]) * d2[i], 1e-6) << r << " " << k;
        if (lam[size_t(r)] == 1.0f) EXPECT_EQ(d[i], d1[i]);
      }
    }
    EXPECT_NEAR(mixed, want, 1e-6);
  }
}

TEST(GradCheck, LinearSoftmaxXent) {
  OneLayer p = MakeOneLayer(3);
  // Analytic, float, through the library.
  std::vector<float> logits(size_t(B * V)), probs(logits.size()), dlogits(logits.size(), 0.0f);
  LinearForward(logits.data(), p.x.data(), p.w.data(), p.b.data(), B, C, V);
  const double loss = SoftmaxCrossEntropyForward(probs.data(), logits.data(), p.y.data(), B, V);
  SoftmaxCrossEntropyBackward(dlogits.data(), probs.data(), p.y.data(), B, V, 1.0f / float(B));
  std::vector<float> dw(p.w.size(), 0.0f), db(p.b.size(), 0.0f), dx(p.x.size(), 0.0f);
  LinearBackward(dx.data(), dw.data(), db.data(), dlogits.data(), p.x.data(), p.w.data(), B, C, V);

  // Numeric, double.
  std::vector<double> x = ToDouble(p.x), w = ToDouble(p.w), b = ToDouble(p.b);
  auto f = [&] { return RefXent(RefLinear(x, w, b, B, C, V), p.y, B, V); };
  EXPECT_NEAR(loss, f(), 1e-5);
  ExpectGradNear(dw, NumericGrad(w, f), "dweight");
  ExpectGradNear(db, NumericGrad(b, f), "dbias");
  ExpectGradNear(dx, NumericGrad(x, f), "dinp");
  ExpectGradNear(dlogits, [&] {
    std::vector<double> l = RefLinear(x, w, b, B, C, V);
    return NumericGrad(l, [&] { return RefXent(l, p.y, B, V); });
  }(), "dlogits");
}

// Label smoothing ε: the loss against (1 - ε)·onehot + ε/V, and its gradient, by finite
// differences of a double reference; ε = 0 is the plain loss.
TEST(SoftmaxCrossEntropy, LabelSmoothingLossAndGradient) {
  base::Rng rng(9);
  const std::vector<float> logits = Random(rng, size_t(B * V), 2.0);
  const std::vector<int32_t> y = {2, 0, 3};
  const float eps = 0.1f;
  auto ref = [&](const std::vector<double>& l) {
    double loss = 0;
    for (int64_t r = 0; r < B; ++r) {
      double mx = -1e300, s = 0;
      for (int64_t k = 0; k < V; ++k) mx = std::max(mx, l[size_t(r * V + k)]);
      for (int64_t k = 0; k < V; ++k) s += std::exp(l[size_t(r * V + k)] - mx);
      for (int64_t k = 0; k < V; ++k) {
        const double target = (k == y[size_t(r)] ? 1.0 - eps : 0.0) + eps / double(V);
        loss -= target * (l[size_t(r * V + k)] - mx - std::log(s));
      }
    }
    return loss / double(B);
  };
  std::vector<float> probs(logits.size()), dlogits(logits.size(), 0.0f);
  const double loss = SoftmaxCrossEntropyForward(probs.data(), logits.data(), y.data(), B, V, eps);
  std::vector<double> l = ToDouble(logits);
  EXPECT_NEAR(loss, ref(l), 1e-6);
  EXPECT_GT(std::fabs(loss - RefXent(l, y, B, V)), 1e-3);  // smoothing changes the loss
  SoftmaxCrossEntropyBackward(dlogits.data(), probs.data(), y.data(), B, V, 1.0f / float(B), eps);
  ExpectGradNear(dlogits, NumericGrad(l, [&] { return ref(l); }), "dlogits");
}

TEST(GradCheck, TwoLayerMlp) {
  // x (B, C) -> Linear (OC) -> ReLU -> Linear (V) -> softmax cross-entropy.
  base::Rng rng(4);
  std::vector<float> x = Random(rng, size_t(B * C)), w1 = Random(rng, size_t(OC * C), 0.6),
                     b1 = Random(rng, size_t(OC), 0.3), w2 = Random(rng, size_t(V * OC), 0.6),
                     b2 = Random(rng, size_t(V), 0.3);
  std::vector<int32_t> y;
  for (int64_t r = 0; r < B; ++r) y.push_back(int32_t(rng.Below(V)));

  std::vector<float> h(size_t(B * OC)), logits(size_t(B * V)), probs(logits.size());
  LinearForward(h.data(), x.data(), w1.data(), b1.data(), B, C, OC);
  ReluForward(h.data(), h.data(), B * OC);
  int64_t active = 0;
  for (float v : h) active += v > 0;
  ASSERT_GT(active, 0) << "all hidden units dead: pick another seed";
  ASSERT_LT(active, B * OC) << "no hidden unit dead: the ReLU mask is not exercised";
  LinearForward(logits.data(), h.data(), w2.data(), b2.data(), B, OC, V);
  SoftmaxCrossEntropyForward(probs.data(), logits.data(), y.data(), B, V);

  std::vector<float> dlogits(logits.size(), 0.0f), dh(h.size(), 0.0f), dhpre(h.size(), 0.0f);
  std::vector<float> dw1(w1.size(), 0.0f), db1(b1.size(), 0.0f), dw2(w2.size(), 0.0f),
      db2(b2.size(), 0.0f), dx(x.size(), 0.0f);
  SoftmaxCrossEntropyBackward(dlogits.data(), probs.data(), y.data(), B, V, 1.0f / float(B));
  LinearBackward(dh.data(), dw2.data(), db2.data(), dlogits.data(), h.data(), w2.data(), B, OC, V);
  ReluBackward(dhpre.data(), dh.data(), h.data(), B * OC);
  LinearBackward(dx.data(), dw1.data(), db1.data(), dhpre.data(), x.data(), w1.data(), B, C, OC);

  std::vector<double> xd = ToDouble(x), w1d = ToDouble(w1), b1d = ToDouble(b1), w2d = ToDouble(w2),
                      b2d = ToDouble(b2);
  auto f = [&] {
    std::vector<double> hd = RefLinear(xd, w1d, b1d, B, C, OC);
    for (double& v : hd) v = std::max(v, 0.0);
    return RefXent(RefLinear(hd, w2d, b2d, B, OC, V), y, B, V);
  };
  ExpectGradNear(dw1, NumericGrad(w1d, f), "dw1");
  ExpectGradNear(db1, NumericGrad(b1d, f), "db1");
  ExpectGradNear(dw2, NumericGrad(w2d, f), "dw2");
  ExpectGradNear(db2, NumericGrad(b2d, f), "db2");
  ExpectGradNear(dx, NumericGrad(xd, f), "dx");
}

TEST(Backward, Accumulates) {
  OneLayer p = MakeOneLayer(5);
  std::vector<float> logits(size_t(B * V)), probs(logits.size());
  LinearForward(logits.data(), p.x.data(), p.w.data(), p.b.data(), B, C, V);
  SoftmaxCrossEntropyForward(probs.data(), logits.data(), p.y.data(), B, V);

  std::vector<float> d1(logits.size(), 0.0f), d2(logits.size(), 0.0f);
  SoftmaxCrossEntropyBackward(d1.data(), probs.data(), p.y.data(), B, V, 0.25f);
  SoftmaxCrossEntropyBackward(d2.data(), probs.data(), p.y.data(), B, V, 0.25f);
  SoftmaxCrossEntropyBackward(d2.data(), probs.data(), p.y.data(), B, V, 0.25f);
  for (size_t i = 0; i < d1.size(); ++i) EXPECT_FLOAT_EQ(d2[i], 2 * d1[i]) << i;

  std::vector<float> dx1(p.x.size(), 0.0f), dw1(p.w.size(), 0.0f), db1(p.b.size(), 0.0f);
  std::vector<float> dx2(p.x.size(), 0.0f), dw2(p.w.size(), 0.0f), db2(p.b.size(), 0.0f);
  LinearBackward(dx1.data(), dw1.data(), db1.data(), d1.data(), p.x.data(), p.w.data(), B, C, V);
  for (int k = 0; k < 2; ++k)
    LinearBackward(dx2.data(), dw2.data(), db2.data(), d1.data(), p.x.data(), p.w.data(), B, C, V);
  for (size_t i = 0; i < dx1.size(); ++i) EXPECT_FLOAT_EQ(dx2[i], 2 * dx1[i]) << "dinp " << i;
  for (size_t i = 0; i < dw1.size(); ++i) EXPECT_FLOAT_EQ(dw2[i], 2 * dw1[i]) << "dweight " << i;
  for (size_t i = 0; i < db1.size(); ++i) EXPECT_FLOAT_EQ(db2[i], 2 * db1[i]) << "dbias " << i;

  // Accumulates onto a non-zero start; null dinp / dbias are skipped.
  std::vector<float> dw3(p.w.size(), 1.0f);
  LinearBackward(nullptr, dw3.data(), nullptr, d1.data(), p.x.data(), p.w.data(), B, C, V);
  for (size_t i = 0; i < dw3.size(); ++i) EXPECT_FLOAT_EQ(dw3[i], 1.0f + dw1[i]) << i;

  std::vector<float> dr(4, 1.0f);
  const float dout[] = {1, 2, 3, 4}, out[] = {1, 0, 2, 0};
  ReluBackward(dr.data(), dout, out, 4);
  ReluBackward(dr.data(), dout, out, 4);
  EXPECT_EQ(dr, (std::vector<float>{3, 1, 7, 1}));
}

// kBf16: the Linear layers' three products go through kernels::GemmBf16 (bit for bit), bias and
// accumulation included; kFp32 stays within f32 rounding of the double reference.
TEST(Linear, Bf16PrecisionRoutesAllThreeProductsToTheTileUnit) {
  if (!Bf16MatmulAvailable()) GTEST_SKIP() << "no AMX-BF16 here";
  base::Rng rng(21);
  const int64_t rows = 37, c = 45, oc = 33;
  const auto x = Random(rng, size_t(rows * c)), w = Random(rng, size_t(oc * c)), b = Random(rng, size_t(oc));
  const auto dy = Random(rng, size_t(rows * oc)), dx0 = Random(rng, size_t(rows * c)), dw0 = Random(rng, size_t(oc * c));
  std::vector<float> y(size_t(rows * oc)), dx = dx0, dw = dw0, db(size_t(oc), 0.0f);
  SetMatmulPrecision(MatmulPrecision::kBf16);
  LinearForward(y.data(), x.data(), w.data(), b.data(), rows, c, oc);
  LinearBackward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), rows, c, oc);
  SetMatmulPrecision(MatmulPrecision::kFp32);
  std::vector<float> y_k(size_t(rows * oc)), dx_k = dx0, dw_k = dw0;
  for (int64_t r = 0; r < rows; ++r) std::copy(b.begin(), b.end(), y_k.begin() + r * oc);
  kernels::GemmBf16(false, true, rows, oc, c, x.data(), c, w.data(), c, 1.0f, y_k.data(), oc);
  kernels::GemmBf16(false, false, rows, c, oc, dy.data(), oc, w.data(), c, 1.0f, dx_k.data(), c);
  kernels::GemmBf16(true, false, oc, c, rows, dy.data(), oc, x.data(), c, 1.0f, dw_k.data(), c);
  EXPECT_EQ(y, y_k);
  EXPECT_EQ(dx, dx_k);
  EXPECT_EQ(dw, dw_k);
  // And the fp32 path differs from it (the switch really switches): bf16 keeps 8 mantissa bits.
  std::vector<float> y32(size_t(rows * oc));
  LinearForward(y32.data(), x.data(), w.data(), b.data(), rows, c, oc);
  EXPECT_NE(y32, y);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], y32[i], 0.05 * (1 + std::fabs(y32[i])));
}

}  // namespace
}  // namespace t81::nn
