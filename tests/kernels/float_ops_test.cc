// The kernel table's float vector operations (GELU, attention, LayerNorm, AdamW) on every ISA the
// CPU has: against double-precision references, and all but attention bit for bit against the
// scalar build.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "t81/base/rng.h"
#include "t81/kernels/kernels.h"

namespace t81::kernels {
namespace {

std::vector<float> Random(base::Rng& rng, int64_t n, double sd = 1.0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = float(rng.Normal() * sd);
  return v;
}

class FloatOpsIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!Supported(GetParam())) GTEST_SKIP() << IsaName(GetParam()) << " not supported here";
  }
  const KernelTable& kt() const { return ForIsa(GetParam()); }
};

// Inputs over GELU's whole range (tails, zero, large), at a length that is no multiple of 16.
std::vector<float> GeluInputs() {
  base::Rng rng(3);
  std::vector<float> x = Random(rng, 1000, 3.0);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 9.0f, -9.0f, 40.0f, -40.0f, 100.0f, -100.0f}) x.push_back(v);
  return x;
}

TEST_P(FloatOpsIsa, GeluMatchesExactFormulaAndScalarBuildBitForBit) {
  const std::vector<float> x = GeluInputs();
  const int64_t n = int64_t(x.size());
  base::Rng rng(4);
  const std::vector<float> dy = Random(rng, n), base_grad = Random(rng, n);
  const KernelTable& ref = ForIsa(Isa::kScalar);
  for (bool erf_form : {true, false}) {
    SCOPED_TRACE(erf_form ? "erf" : "tanh");
    std::vector<float> y(x.size()), y_ref(x.size()), g = base_grad, g_ref = base_grad;
    (erf_form ? kt().gelu_erf : kt().gelu_tanh)(y.data(), x.data(), n);
    (erf_form ? ref.gelu_erf : ref.gelu_tanh)(y_ref.data(), x.data(), n);
    (erf_form ? kt().gelu_erf_backward : kt().gelu_tanh_backward)(g.data(), x.data(), dy.data(), n);
    (erf_form ? ref.gelu_erf_backward : ref.gelu_tanh_backward)(g_ref.data(), x.data(), dy.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double v = x[size_t(i)];
      const double cdf = erf_form ? 0.5 * (1 + std::erf(v / std::sqrt(2.0)))
                                  : 0.5 * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
      EXPECT_NEAR(y[size_t(i)], v * cdf, 2e-6 * (1 + std::fabs(v))) << "x " << v;
      // dGELU/dx by central differences of the double formula
      const double h = 1e-4;
      auto gelu = [&](double u) {
        return erf_form ? u * 0.5 * (1 + std::erf(u / std::sqrt(2.0)))
                        : 0.5 * u * (1 + std::tanh(std::sqrt(2 / M_PI) * (u + 0.044715 * u * u * u)));
      };
      const double d = (gelu(v + h) - gelu(v - h)) / (2 * h);
      EXPECT_NEAR(g[size_t(i)] - base_grad[size_t(i)], d * dy[size_t(i)], 2e-5 * (1 + std::fabs(dy[size_t(i)])))
          << "x " << v;
      EXPECT_EQ(y[size_t(i)], y_ref[size_t(i)]) << "x " << v;
      EXPECT_EQ(g[size_t(i)], g_ref[size_t(i)]) << "x " << v;
    }
  }
}

// Double-precision attention of one sequence: out (T, NH·HD), att (NH, T, T); with dout, the
// gradient dqkv (T, W) by the textbook formulas.
struct RefAttn {
  std::vector<double> out, att, dqkv;
};
RefAttn Reference(const AttnDims& d, const std::vector<float>& qkv, const std::vector<float>& dout) {
  const int64_t T = d.T, HD = d.HD, W = d.W(), OW = d.NH * HD, group = d.NH / d.NKV;
  const double scale = 1 / std::sqrt(double(HD));
  RefAttn r;
  r.out.assign(size_t(T * OW), 0);
  r.att.assign(size_t(d.NH * T * T), 0);
  r.dqkv.assign(size_t(T * W), 0);
  auto q = [&](int64_t t, int64_t h, int64_t i) { return double(qkv[size_t(t * W + h * HD + i)]); };
  auto k = [&](int64_t t, int64_t g, int64_t i) { return double(qkv[size_t(t * W + (d.NH + g) * HD + i)]); };
  auto v = [&](int64_t t, int64_t g, int64_t i) { return double(qkv[size_t(t * W + (d.NH + d.NKV + g) * HD + i)]); };
  for (int64_t h = 0; h < d.NH; ++h) {
    const int64_t g = h / group;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t n = d.causal ? t + 1 : T;
      double* p = &r.att[size_t((h * T + t) * T)];
      double mx = -1e300, sum = 0;
      for (int64_t s = 0; s < n; ++s) {
        double dot = 0;
        for (int64_t i = 0; i < HD; ++i) dot += q(t, h, i) * k(s, g, i);
        p[s] = dot * scale;
        mx = std::max(mx, p[s]);
      }
      for (int64_t s = 0; s < n; ++s) sum += (p[s] = std::exp(p[s] - mx));
      for (int64_t s = 0; s < n; ++s) p[s] /= sum;
      for (int64_t i = 0; i < HD; ++i)
        for (int64_t s = 0; s < n; ++s) r.out[size_t(t * OW + h * HD + i)] += p[s] * v(s, g, i);
      // backward of row t
      std::vector<double> dp(static_cast<size_t>(n), 0.0);
      double dot_pd = 0;
      for (int64_t s = 0; s < n; ++s) {
        for (int64_t i = 0; i < HD; ++i) dp[size_t(s)] += double(dout[size_t(t * OW + h * HD + i)]) * v(s, g, i);
        dot_pd += p[s] * dp[size_t(s)];
      }
      for (int64_t s = 0; s < n; ++s) {
        const double ds = p[s] * (dp[size_t(s)] - dot_pd) * scale;
        for (int64_t i = 0; i < HD; ++i) {
          r.dqkv[size_t(t * W + h * HD + i)] += ds * k(s, g, i);
          r.dqkv[size_t(s * W + (d.NH + g) * HD + i)] += ds * q(t, h, i);
          r.dqkv[size_t(s * W + (d.NH + d.NKV + g) * HD + i)] += p[s] * double(dout[size_t(t * OW + h * HD + i)]);
        }
      }
    }
  }
  return r;
}

struct AttnShape {
  int64_t T, NH, NKV, HD;
  bool causal;
};

TEST_P(FloatOpsIsa, AttentionMatchesDoubleReference) {
  for (const AttnShape& sh : {AttnShape{1, 2, 1, 8, true}, AttnShape{5, 3, 3, 4, false}, AttnShape{17, 4, 2, 16, true},
                              AttnShape{50, 4, 4, 32, false}, AttnShape{33, 6, 2, 40, false}, AttnShape{20, 2, 1, 96, true},
                              AttnShape{197, 2, 1, 64, false}}) {
    const AttnDims d{.T = sh.T, .NH = sh.NH, .NKV = sh.NKV, .HD = sh.HD, .causal = sh.causal};
    SCOPED_TRACE("T " + std::to_string(d.T) + " NH " + std::to_string(d.NH) + " NKV " + std::to_string(d.NKV) +
                 " HD " + std::to_string(d.HD) + (d.causal ? " causal" : " full"));
    base::Rng rng(uint64_t(d.T * 131 + d.HD));
    const std::vector<float> qkv = Random(rng, d.T * d.W()), dout = Random(rng, d.T * d.NH * d.HD);
    const RefAttn ref = Reference(d, qkv, dout);
    std::vector<float> out(size_t(d.T * d.NH * d.HD), -5.0f), att(size_t(d.NH * d.T * d.T), -5.0f);
    std::vector<float> scratch(size_t(d.backward_scratch()), -3.0f);
    for (int64_t h = 0; h < d.NH; ++h)
      kt().attn_head_forward(d, h, qkv.data(), out.data(), att.data() + h * d.T * d.T, scratch.data());
    for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], ref.out[i], 2e-6 * (1 + std::fabs(ref.out[i]))) << i;
    for (size_t i = 0; i < att.size(); ++i) ASSERT_NEAR(att[i], ref.att[i], 1e-6) << i;  // zeros above the diagonal too
    // Backward accumulates into what dqkv held.
    const std::vector<float> prior = Random(rng, d.T * d.W());
    std::vector<float> dqkv = prior;
    for (int64_t g = 0; g < d.NKV; ++g)
      kt().attn_group_backward(d, g, qkv.data(), att.data(), dout.data(), dqkv.data(), scratch.data());
    for (size_t i = 0; i < dqkv.size(); ++i)
      ASSERT_NEAR(dqkv[i] - prior[i], ref.dqkv[i], 1e-5 * (1 + std::fabs(ref.dqkv[i]))) << i;
    // The decode row: query t against keys and values 0..t of head 0 (strided rows).
    const int64_t t = d.T - 1, n = d.causal ? t + 1 : d.T;
    std::vector<float> row(static_cast<size_t>(d.HD)), a(static_cast<size_t>(n));
    kt().attn_row(row.data(), a.data(), qkv.data() + t * d.W(), qkv.data() + d.NH * d.HD, d.W(),
                  qkv.data() + (d.NH + d.NKV) * d.HD, d.W(), n, d.HD, float(1 / std::sqrt(double(d.HD))));
    for (int64_t i = 0; i < d.HD; ++i)
      EXPECT_NEAR(row[size_t(i)], ref.out[size_t(t * d.NH * d.HD + i)], 2e-6 * (1 + std::fabs(ref.out[size_t(t * d.NH * d.HD + i)])));
  }
}

// LayerNorm's rows (forward and input gradient) and column sums (weight and bias gradients) against
// double-precision formulas, and bit for bit against the scalar build; C is no multiple of 8 once.
TEST_P(FloatOpsIsa, LayerNormMatchesDoubleFormulasAndScalarBuildBitForBit) {
  const KernelTable& ref = ForIsa(Isa::kScalar);
  for (const int64_t C : {int64_t(37), int64_t(256)}) {
    SCOPED_TRACE("C " + std::to_string(C));
    const int64_t n = 5;
    base::Rng rng(static_cast<uint64_t>(C));
    std::vector<float> x = Random(rng, n * C, 2.0);
    for (int64_t c = 0; c < C; ++c) x[size_t(c)] += 3.0f;  // a row far from zero mean
    const std::vector<float> w = Random(rng, C), b = Random(rng, C), dy = Random(rng, n * C), prior = Random(rng, n * C);
    const float eps = 1e-5f;
    std::vector<float> out(size_t(n * C)), mean(static_cast<size_t>(n)), rstd(static_cast<size_t>(n));
    std::vector<float> out_r = out, mean_r = mean, rstd_r = rstd;
    kt().layernorm_rows(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), n, C, eps);
    ref.layernorm_rows(out_r.data(), mean_r.data(), rstd_r.data(), x.data(), w.data(), b.data(), n, C, eps);
    std::vector<float> dx = prior, dx_r = prior, dw(static_cast<size_t>(C), 0.5f), db(static_cast<size_t>(C), -0.5f);
    std::vector<float> dw_r = dw, db_r = db;
    kt().layernorm_rows_backward(dx.data(), dy.data(), x.data(), w.data(), mean.data(), rstd.data(), n, C);
    ref.layernorm_rows_backward(dx_r.data(), dy.data(), x.data(), w.data(), mean.data(), rstd.data(), n, C);
    kt().layernorm_cols_backward(dw.data(), db.data(), dy.data(), x.data(), mean.data(), rstd.data(), n, C, 3, C);
    ref.layernorm_cols_backward(dw_r.data(), db_r.data(), dy.data(), x.data(), mean.data(), rstd.data(), n, C, 3, C);
    for (int64_t i = 0; i < n; ++i) {
      double m = 0, v = 0;
      for (int64_t c = 0; c < C; ++c) m += x[size_t(i * C + c)];
      m /= double(C);
      for (int64_t c = 0; c < C; ++c) v += (x[size_t(i * C + c)] - m) * (x[size_t(i * C + c)] - m);
      const double r = 1 / std::sqrt(v / double(C) + eps);
      EXPECT_NEAR(mean[size_t(i)], m, 1e-6 * (1 + std::fabs(m)));
      EXPECT_NEAR(rstd[size_t(i)], r, 1e-6 * r);
      // dx = r · (g − mean(g) − x̂ · mean(g · x̂)) with g = w · dy
      double gm = 0, gxm = 0;
      for (int64_t c = 0; c < C; ++c) {
        const double g = double(w[size_t(c)]) * dy[size_t(i * C + c)], xh = (x[size_t(i * C + c)] - m) * r;
        gm += g / double(C);
        gxm += g * xh / double(C);
      }
      for (int64_t c = 0; c < C; ++c) {
        const size_t k = size_t(i * C + c);
        const double xh = (x[k] - m) * r, g = double(w[size_t(c)]) * dy[k];
        EXPECT_NEAR(out[k], xh * w[size_t(c)] + b[size_t(c)], 1e-5 * (1 + std::fabs(xh * w[size_t(c)])));
        EXPECT_NEAR(dx[k] - prior[k], r * (g - gm - xh * gxm), 1e-4 * (1 + std::fabs(g)));
      }
    }
    for (int64_t c = 0; c < C; ++c) {
      double sw = 0.5, sb = -0.5;
      for (int64_t i = 0; c >= 3 && i < n; ++i) {
        const size_t k = size_t(i * C + c);
        sw += (x[k] - double(mean[size_t(i)])) * rstd[size_t(i)] * dy[k];
        sb += dy[k];
      }
      EXPECT_NEAR(dw[size_t(c)], sw, 1e-5 * (1 + std::fabs(sw))) << c;  // columns below 3 untouched
      EXPECT_NEAR(db[size_t(c)], sb, 1e-5 * (1 + std::fabs(sb))) << c;
    }
    EXPECT_EQ(out, out_r);
    EXPECT_EQ(mean, mean_r);
    EXPECT_EQ(rstd, rstd_r);
    EXPECT_EQ(dx, dx_r);
    EXPECT_EQ(dw, dw_r);
    EXPECT_EQ(db, db_r);
  }
}

// One AdamW step: the float formula, bit for bit against the scalar build (n no multiple of 16).
TEST_P(FloatOpsIsa, AdamWMatchesScalarBuildBitForBit) {
  base::Rng rng(9);
  const int64_t n = 1003;
  const std::vector<float> p0 = Random(rng, n), g = Random(rng, n), m0 = Random(rng, n, 0.1);
  std::vector<float> v0 = Random(rng, n, 0.1);
  for (float& x : v0) x = x * x;
  const AdamWConsts k{1e-3f, 0.9999f, 0.9f, 0.1f, 0.999f, 0.001f, 0.0447f, 1e-8f};
  std::vector<float> p = p0, m = m0, v = v0, p_r = p0, m_r = m0, v_r = v0;
  kt().adamw(p.data(), g.data(), m.data(), v.data(), n, k);
  ForIsa(Isa::kScalar).adamw(p_r.data(), g.data(), m_r.data(), v_r.data(), n, k);
  for (int64_t i = 0; i < n; ++i) {
    const size_t j = size_t(i);
    const double mm = 0.9 * m0[j] + 0.1 * g[j], vv = 0.999 * v0[j] + 0.001 * double(g[j]) * g[j];
    const double want = p0[j] * 0.9999 - 1e-3 * mm / (std::sqrt(vv) / 0.0447 + 1e-8);
    EXPECT_NEAR(m[j], mm, 1e-6 * (1 + std::fabs(mm)));
    EXPECT_NEAR(v[j], vv, 1e-6 * (1 + vv));
    EXPECT_NEAR(p[j], want, 1e-5 * (1 + std::fabs(want))) << i;
  }
  EXPECT_EQ(p, p_r);
  EXPECT_EQ(m, m_r);
  EXPECT_EQ(v, v_r);
}

INSTANTIATE_TEST_SUITE_P(Isas, FloatOpsIsa, ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                         [](const auto& info) { return std::string(IsaName(info.param)); });

}  // namespace
}  // namespace t81::kernels
