// Every kernel path the CPU has against the scalar reference, and the reference against a plain
// float matmul of the dequantized weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <tuple>
#include <vector>

#include "t81/base/fp16.h"
#include "t81/base/rng.h"
#include "t81/base/threads.h"
#include "t81/kernels/kernels.h"
#include "t81/quant/q8_0.h"

namespace t81::kernels {
namespace {

struct Problem {
  quant::TernaryMatrix tm;
  PackedWeights w;
  std::vector<float> wd;  // dequantized (n, k)
  std::vector<float> x;   // (m, ldx)
  int64_t m, n, k, ldx;
};

Problem Make(int64_t m, int64_t n, int64_t k, quant::TqFormat fmt, quant::Granularity g,
             uint64_t seed) {
  Problem p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.ldx = k + 3;  // a row stride that is not the row length
  base::Rng rng(seed);
  std::vector<float> w(size_t(n * k));
  for (float& v : w) v = float(rng.Normal() * 0.05);
  p.tm = quant::QuantizeMatrix(w.data(), n, k, g, 0.45f, fmt);
  p.w = Repack(p.tm);
  p.wd.resize(w.size());
  quant::Dequantize(p.tm, p.wd.data());
  p.x.resize(size_t(m * p.ldx));
  for (float& v : p.x) v = float(rng.Normal());
  return p;
}

TEST(Repack, UnpackOfRepackEqualsUnpack) {
  for (auto fmt : {quant::TqFormat::kTq1_0, quant::TqFormat::kTq2_0}) {
    const Problem p = Make(1, 37, 1000, fmt, quant::Granularity::kBlock, 5);
    std::vector<int8_t> t1(size_t(p.n * p.k)), t2(t1.size());
    std::vector<float> s1(size_t(p.n * p.w.kb)), s2(s1.size());
    quant::UnpackTernary(p.tm, t1.data(), s1.data());
    UnpackPacked(p.w, t2.data(), s2.data());
    EXPECT_EQ(t1, t2);
    EXPECT_EQ(s1, s2);
    // padding rows and columns hold t = 0
    EXPECT_EQ(PackedTrit(p.w, 40, 5), 0);
    EXPECT_EQ(PackedTrit(p.w, 3, 1020), 0);
  }
}

TEST(QuantizeActs, RoundsPerRowAbsmax) {
  const std::vector<float> x = {0.0f, 1.0f, -2.0f, 0.5f, /*row 1*/ 0.0f, 0.0f, 0.0f, 0.0f};
  QuantizedActs q;
  QuantizeActs(x.data(), 2, 4, 4, &q);
  EXPECT_EQ(q.kb, 1);
  EXPECT_FLOAT_EQ(q.scale[0], 2.0f / 127.0f);
  EXPECT_EQ(q.q[0], 0);
  EXPECT_EQ(q.q[1], 64);  // 63.5 rounds to even
  EXPECT_EQ(q.q[2], -127);
  EXPECT_EQ(q.q[3], 32);  // 31.75
  EXPECT_EQ(q.bsum[0], 0 + 64 - 127 + 32);
  EXPECT_EQ(q.scale[1], 0.0f);
  EXPECT_EQ(q.bsum[1], 0);
}

class QuantizeRowIsa : public ::testing::TestWithParam<Isa> {};

// Every ISA's activation quantizer gives the reference's bytes, scales and block sums exactly,
// including ties (x·127/amax = n + 0.5), tails and all-zero rows.
TEST_P(QuantizeRowIsa, MatchesReferenceExactly) {
  const Isa isa = GetParam();
  if (!Supported(isa)) GTEST_SKIP() << IsaName(isa) << " not supported here";
  base::Rng rng(11);
  for (int64_t k : {1, 7, 16, 255, 256, 300, 784, 1000}) {
    std::vector<float> x(size_t(3 * k));
    for (float& v : x) v = float(rng.Normal() * 3.0);
    for (int64_t j = 0; j < k; ++j) x[size_t(k + j)] = float((j % 255) - 127) * 0.5f;  // ties
    x[size_t(k)] = 127.0f;                                                          // amax 127
    std::fill(x.begin() + 2 * k, x.end(), 0.0f);
    QuantizedActs a, b;
    QuantizeActs(ForIsa(Isa::kScalar), x.data(), 3, k, k, &a);
    QuantizeActs(ForIsa(isa), x.data(), 3, k, k, &b);
    EXPECT_EQ(a.q, b.q) << "k=" << k;
    EXPECT_EQ(a.scale, b.scale) << "k=" << k;
    EXPECT_EQ(a.bsum, b.bsum) << "k=" << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, QuantizeRowIsa,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                         [](const auto& info) { return std::string(IsaName(info.param)); });

// Reference vs float matmul of dequantized W: the f32 path within a bound derived from K and the
// magnitudes; the i8 path within the int8 activation rounding bound.
TEST(Reference, MatchesDequantizedMatmul) {
  const Problem p = Make(5, 21, 700, quant::TqFormat::kTq2_0, quant::Granularity::kRow, 9);
  std::vector<float> yf(size_t(p.m * p.n)), yi(yf.size());
  const KernelTable& kt = ForIsa(Isa::kScalar);
  GemmF32(kt, p.w, p.x.data(), p.m, p.ldx, yf.data(), p.n);
  QuantizedActs q;
  QuantizeActs(p.x.data(), p.m, p.k, p.ldx, &q);
  GemmI8(kt, p.w, q, yi.data(), p.n);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      double exact = 0, mag = 0, wabs = 0;
      float amax = 0;
      for (int64_t k = 0; k < p.k; ++k) {
        exact += double(p.wd[j * p.k + k]) * p.x[i * p.ldx + k];
        mag += std::fabs(double(p.wd[j * p.k + k]) * p.x[i * p.ldx + k]);
        wabs += std::fabs(p.wd[j * p.k + k]);
        amax = std::max(amax, std::fabs(p.x[i * p.ldx + k]));
      }
      const double eps = 6e-8;
      EXPECT_NEAR(yf[i * p.n + j], exact, 2.0 * (p.k + 4) * eps * mag + 1e-6);
      // int8: each activation is off by at most half a step (amax/254), plus float rounding.
      EXPECT_NEAR(yi[i * p.n + j], exact, wabs * amax / 254.0 + 2.0 * (p.k + 4) * eps * mag + 1e-5);
    }
}

using Shape = std::tuple<int, int, int>;  // m, n, k
class KernelVsRef : public ::testing::TestWithParam<std::tuple<Isa, Shape>> {};

TEST_P(KernelVsRef, AllPathsAgree) {
  const auto [isa, shape] = GetParam();
  if (!Supported(isa)) GTEST_SKIP() << IsaName(isa) << " not supported here";
  const auto [m, n, k] = shape;
  const KernelTable& kt = ForIsa(isa);
  const KernelTable& rt = ForIsa(Isa::kScalar);
  for (auto g : {quant::Granularity::kTensor, quant::Granularity::kBlock}) {
    const Problem p = Make(m, n, k, quant::TqFormat::kTq2_0, g, uint64_t(m * 131 + n * 7 + k));
    QuantizedActs q;
    QuantizeActs(p.x.data(), p.m, p.k, p.ldx, &q);
    for (auto [alpha, beta] : {std::pair{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, 0.25f}}) {
      const int64_t ldy = n + 5;
      std::vector<float> y0(size_t(m * ldy)), y1, yr, yf;
      base::Rng rng(1);
      for (float& v : y0) v = float(rng.Normal());
      if (beta == 0.0f) std::fill(y0.begin(), y0.end(), NAN);  // beta = 0 must not read Y
      yr = y0;
      y1 = y0;
      GemmI8(rt, p.w, q, yr.data(), ldy, alpha, beta);
      GemmI8(kt, p.w, q, y1.data(), ldy, alpha, beta);
      for (size_t i = 0; i < y1.size(); ++i) {
        if (int64_t(i % ldy) >= n) {  // outside the output: untouched
          ASSERT_TRUE(std::isnan(y1[i]) ? std::isnan(y0[i]) : y1[i] == y0[i]);
          continue;
        }
        ASSERT_EQ(y1[i], yr[i]) << "i8 " << IsaName(isa) << " at " << i;  // exact
      }
      yf = y0;
      y1 = y0;
      GemmF32(rt, p.w, p.x.data(), p.m, p.ldx, yf.data(), ldy, alpha, beta);
      GemmF32(kt, p.w, p.x.data(), p.m, p.ldx, y1.data(), ldy, alpha, beta);
      for (size_t i = 0; i < y1.size(); ++i) {
        if (int64_t(i % ldy) >= n) continue;
        // Same summation order (k ascending per block, fma per block): equal up to the
        // bound of K float additions, which in practice is 0.
        const double tol = 1e-6 * k * (std::fabs(yf[i]) + 1.0);
        ASSERT_NEAR(y1[i], yf[i], tol) << "f32 " << IsaName(isa) << " at " << i;
      }
    }
  }
}

std::string ShapeName(const ::testing::TestParamInfo<std::tuple<Isa, Shape>>& info) {
  const Shape& s = std::get<1>(info.param);
  return std::string(IsaName(std::get<0>(info.param))) + "_m" + std::to_string(std::get<0>(s)) +
         "_n" + std::to_string(std::get<1>(s)) + "_k" + std::to_string(std::get<2>(s));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, KernelVsRef,
    ::testing::Combine(::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                       ::testing::Values(Shape{1, 16, 256}, Shape{3, 33, 768}, Shape{17, 50, 1000},
                                         Shape{128, 40, 256}, Shape{1, 10, 784},
                                         Shape{70, 7, 1000}, Shape{9, 100, 512},
                                         // every AVX-512 GEMM tile group (4, 3, 2, 1 tiles of 16)
                                         // and row tail (6- and 8-row micro-kernels, 64-row passes)
                                         Shape{20, 30, 512}, Shape{5, 90, 300},
                                         Shape{200, 130, 256},
                                         // AMX (16 rows or more): whole and partial 32-row blocks, an
                                         // odd tile count, more than one group of 8 tiles
                                         Shape{16, 33, 300}, Shape{45, 100, 768}, Shape{96, 260, 1000})),
    ShapeName);

// The largest integer sums the kernels can meet: every trit +1 (u = 2) against |q| = 127, and
// alternating signs. AVX2 accumulates half blocks in int16 lanes: a wrong bound would show here as
// a wrapped sum.
class ExtremeSums : public ::testing::TestWithParam<Isa> {};
TEST_P(ExtremeSums, ExactOnEveryPath) {
  const Isa isa = GetParam();
  if (!Supported(isa)) GTEST_SKIP() << IsaName(isa) << " not supported here";
  for (const int64_t m : {1, 2, 7, 16, 40}) {
    const int64_t n = 35, k = 768;
    std::vector<float> w(size_t(n * k));
    for (int64_t o = 0; o < n; ++o)
      for (int64_t j = 0; j < k; ++j) w[size_t(o * k + j)] = (o % 3 == 2 && j % 2) ? -1.0f : 1.0f;
    const PackedWeights pw = Repack(quant::QuantizeMatrix(w.data(), n, k, quant::Granularity::kRow, 0.45f,
                                                          quant::TqFormat::kTq2_0));
    std::vector<float> x(size_t(m * k));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < k; ++j) x[size_t(i * k + j)] = (i % 2 ? -2.0f : 2.0f) * ((i % 4 == 3 && j % 2) ? -1 : 1);
    QuantizedActs q;
    QuantizeActs(ForIsa(isa), x.data(), m, k, k, &q);
    std::vector<float> y(size_t(m * n)), yr(y.size());
    GemmI8(ForIsa(isa), pw, q, y.data(), n);
    GemmI8(ForIsa(Isa::kScalar), pw, q, yr.data(), n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t o = 0; o < n; ++o) {
        double want = 0;  // |want| = 1536 or small; the only error is the final float rescale
        for (int64_t j = 0; j < k; ++j) want += double(w[size_t(o * k + j)]) * x[size_t(i * k + j)];
        ASSERT_NEAR(y[size_t(i * n + o)], want, 1e-6 * std::fabs(want) + 1e-6)
            << IsaName(isa) << " m " << m << " row " << i << " out " << o;
        ASSERT_EQ(y[size_t(i * n + o)], yr[size_t(i * n + o)]);
      }
  }
}
INSTANTIATE_TEST_SUITE_P(Isas, ExtremeSums, ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                         [](const auto& info) { return std::string(IsaName(info.param)); });

// A TQ2_0 byte can hold code 3, which ggml (and t81) decode as t = +2: a file from elsewhere may
// contain it. Every ISA must still agree with the reference — AVX2 sums in int16 lanes and
// widens every half block for exactly this case (64 · 762 would wrap).
class Tq2Code3 : public ::testing::TestWithParam<Isa> {};
TEST_P(Tq2Code3, EveryPathAgreesWithReference) {
  const Isa isa = GetParam();
  if (!Supported(isa)) GTEST_SKIP() << IsaName(isa) << " not supported here";
  const int64_t n = 20, k = 512;
  quant::TernaryMatrix tm;
  tm.format = quant::TqFormat::kTq2_0;
  tm.rows = n;
  tm.cols = k;
  tm.data.assign(size_t(n * tm.blocks_per_row() * 66), 0xff);  // every code 3
  for (int64_t blk = 0; blk < n * tm.blocks_per_row(); ++blk) {
    const uint16_t one = base::Fp32ToFp16(1.0f);
    std::memcpy(tm.data.data() + blk * 66 + 64, &one, 2);
  }
  const PackedWeights pw = Repack(tm);
  for (const int64_t m : {1, 2, 5, 13, 37}) {
    std::vector<float> x(size_t(m * k), 1.0f);
    QuantizedActs q;
    QuantizeActs(ForIsa(isa), x.data(), m, k, k, &q);
    std::vector<float> y(size_t(m * n)), yr(y.size());
    GemmI8(ForIsa(isa), pw, q, y.data(), n);
    GemmI8(ForIsa(Isa::kScalar), pw, q, yr.data(), n);
    EXPECT_EQ(y, yr) << IsaName(isa) << " m " << m;
    EXPECT_FLOAT_EQ(yr[0], 2.0f * float(k)) << "t = +2 everywhere, x = 1";
  }
}
INSTANTIATE_TEST_SUITE_P(Isas, Tq2Code3, ::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                         [](const auto& info) { return std::string(IsaName(info.param)); });

// 8-bit weights (Q8_0 heads): the reference against a double-precision product of the dequantized
// weights and activations, every ISA against the reference exactly; shapes with tile tails, and
// raw bytes of -128 (a Q8_0 writer never emits them, a file may hold them).
class Q8VsRef : public ::testing::TestWithParam<std::tuple<Isa, Shape>> {};
TEST_P(Q8VsRef, ExactAgainstReference) {
  const auto [isa, shape] = GetParam();
  if (!Supported(isa)) GTEST_SKIP() << IsaName(isa) << " not supported here";
  const auto [m, n, k] = shape;
  base::Rng rng(uint64_t(m * 1000 + n * 10 + k));
  std::vector<float> w(size_t(n * k)), x(size_t(m * k));
  for (float& v : w) v = float(rng.Normal() * 0.1);
  for (float& v : x) v = float(rng.Normal());
  std::vector<uint8_t> q8(size_t(n * k / 32 * quant::kQ8BlockBytes));
  quant::QuantizeQ8_0(w.data(), n * k, q8.data());
  q8[2] = 0x80;  // row 0, column 0: -128
  const Q8Weights pw = RepackQ8_0(q8.data(), n, k);
  std::vector<float> wd(w.size());
  quant::DequantizeQ8_0(q8.data(), n * k, wd.data());
  Q8Acts qa;
  QuantizeActsQ8(x.data(), m, k, &qa);
  const int64_t ldy = n + 3;
  std::vector<float> yr(size_t(m * ldy), -7.0f), y1 = yr;
  GemmQ8(ForIsa(Isa::kScalar), pw, qa, yr.data(), ldy);
  GemmQ8(ForIsa(isa), pw, qa, y1.data(), ldy);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t o = 0; o < n; ++o) {
      double exact = 0, mag = 0;
      for (int64_t j = 0; j < k; ++j) {
        const double xq = double(qa.q[size_t(i * k + j)]) * qa.d[size_t(i * qa.kb + j / 32)];
        exact += double(wd[size_t(o * k + j)]) * xq;
        mag += std::fabs(double(wd[size_t(o * k + j)]) * xq);
      }
      EXPECT_NEAR(yr[size_t(i * ldy + o)], exact, 1e-6 * mag + 1e-6) << "ref at " << i << "," << o;
      ASSERT_EQ(y1[size_t(i * ldy + o)], yr[size_t(i * ldy + o)]) << IsaName(isa) << " at " << i << "," << o;
    }
    for (int64_t o = n; o < ldy; ++o) ASSERT_EQ(y1[size_t(i * ldy + o)], -7.0f);  // untouched
  }
}
INSTANTIATE_TEST_SUITE_P(Shapes, Q8VsRef,
                         ::testing::Combine(::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                                            ::testing::Values(Shape{1, 50, 64}, Shape{3, 33, 768}, Shape{2, 100, 256},
                                                              Shape{1, 7, 32}, Shape{1, 260, 1024})),
                         ShapeName);

// 16-bit weights (fp16 heads, bf16 checkpoints): every ISA equals the reference exactly (one FMA
// chain per output, k ascending); the reference is within float rounding of a double product.
class F16VsRef : public ::testing::TestWithParam<std::tuple<Isa, Shape>> {};
TEST_P(F16VsRef, ExactAgainstReference) {
  const auto [isa, shape] = GetParam();
  if (!Supported(isa)) GTEST_SKIP() << IsaName(isa) << " not supported here";
  const auto [m, n, k] = shape;
  for (HalfType type : {HalfType::kF16, HalfType::kBF16}) {
    SCOPED_TRACE(type == HalfType::kF16 ? "f16" : "bf16");
    base::Rng rng(uint64_t(m * 977 + n * 13 + k));
    auto to_half = [type](float v) { return type == HalfType::kF16 ? base::Fp32ToFp16(v) : base::Fp32ToBf16(v); };
    auto to_float = [type](uint16_t h) { return type == HalfType::kF16 ? base::Fp16ToFp32(h) : base::Bf16ToFp32(h); };
    std::vector<uint16_t> wh(static_cast<size_t>(n * k));
    for (auto& v : wh) v = to_half(float(rng.Normal() * 0.1));
    std::vector<float> x(static_cast<size_t>(m * (k + 2)));
    for (float& v : x) v = float(rng.Normal());
    const HalfWeights pw = RepackHalf(wh.data(), n, k, type);
    std::vector<float> row(static_cast<size_t>(k));
    DequantRow(pw, n - 1, row.data());
    for (int64_t j = 0; j < k; ++j) ASSERT_EQ(row[size_t(j)], to_float(wh[size_t((n - 1) * k + j)]));
    const int64_t ldy = n + 3, ldx = k + 2;
    std::vector<float> yr(static_cast<size_t>(m * ldy), -7.0f), y1 = yr;
    GemmHalf(ForIsa(Isa::kScalar), pw, x.data(), m, ldx, yr.data(), ldy);
    GemmHalf(ForIsa(isa), pw, x.data(), m, ldx, y1.data(), ldy);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t o = 0; o < n; ++o) {
        double exact = 0, mag = 0;
        for (int64_t j = 0; j < k; ++j) {
          const double p = double(to_float(wh[size_t(o * k + j)])) * x[size_t(i * ldx + j)];
          exact += p;
          mag += std::fabs(p);
        }
        EXPECT_NEAR(yr[size_t(i * ldy + o)], exact, 1e-6 * mag * std::sqrt(double(k)) + 1e-6) << i << "," << o;
        ASSERT_EQ(y1[size_t(i * ldy + o)], yr[size_t(i * ldy + o)]) << IsaName(isa) << " at " << i << "," << o;
      }
      for (int64_t o = n; o < ldy; ++o) ASSERT_EQ(y1[size_t(i * ldy + o)], -7.0f);
    }
  }
}
INSTANTIATE_TEST_SUITE_P(Shapes, F16VsRef,
                         ::testing::Combine(::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                                            ::testing::Values(Shape{1, 50, 64}, Shape{3, 33, 100}, Shape{2, 200, 256},
                                                              Shape{1, 7, 1}, Shape{1, 260, 1024})),
                         ShapeName);

// Row-major float GEMV (F32 heads, float linears at decode): every ISA equals the reference
// exactly (16 lane sums, fixed tree); the reference is within float rounding of a double product.
// k covers whole 16-steps, a zero-padded tail, and k < 16; n covers the 4-row groups and a tail.
class GemvF32VsRef : public ::testing::TestWithParam<std::tuple<Isa, Shape>> {};
TEST_P(GemvF32VsRef, ExactAgainstReference) {
  const auto [isa, shape] = GetParam();
  if (!Supported(isa)) GTEST_SKIP() << IsaName(isa) << " not supported here";
  const auto [m, n, k] = shape;
  (void)m;
  base::Rng rng(uint64_t(n * 13 + k));
  std::vector<float> w(static_cast<size_t>(n * k)), x(static_cast<size_t>(k));
  for (float& v : w) v = float(rng.Normal() * 0.1);
  for (float& v : x) v = float(rng.Normal());
  std::vector<float> yr(size_t(n + 1), -7.0f), y1 = yr;
  GemvF32(ForIsa(Isa::kScalar), w.data(), n, k, x.data(), yr.data());
  GemvF32(ForIsa(isa), w.data(), n, k, x.data(), y1.data());
  for (int64_t o = 0; o < n; ++o) {
    double exact = 0, mag = 0;
    for (int64_t j = 0; j < k; ++j) {
      exact += double(w[size_t(o * k + j)]) * x[size_t(j)];
      mag += std::fabs(double(w[size_t(o * k + j)]) * x[size_t(j)]);
    }
    EXPECT_NEAR(yr[size_t(o)], exact, 1e-6 * mag + 1e-7) << o;
    ASSERT_EQ(y1[size_t(o)], yr[size_t(o)]) << IsaName(isa) << " at " << o;
  }
  EXPECT_EQ(y1[size_t(n)], -7.0f);  // nothing written past the rows
}
INSTANTIATE_TEST_SUITE_P(Shapes, GemvF32VsRef,
                         ::testing::Combine(::testing::Values(Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx),
                                            ::testing::Values(Shape{1, 50, 64}, Shape{1, 33, 100}, Shape{1, 7, 5},
                                                              Shape{1, 4, 16}, Shape{1, 301, 3072}, Shape{1, 1, 1})),
                         ShapeName);

TEST(Threads, ResultIndependentOfThreadCount) {
  const Problem p = Make(33, 70, 1000, quant::TqFormat::kTq2_0, quant::Granularity::kBlock, 4);
  QuantizedActs q;
  QuantizeActs(p.x.data(), p.m, p.k, p.ldx, &q);
  std::vector<float> a(size_t(p.m * p.n)), b(a.size());
  base::SetNumThreads(1);
  GemmI8(Active(), p.w, q, a.data(), p.n);
  base::SetNumThreads(2);
  GemmI8(Active(), p.w, q, b.data(), p.n);
  EXPECT_EQ(a, b);
}

// The streaming-read measurement runs every read pattern over a buffer of any size (not a whole
// number of 64-byte lines per thread or stream) and returns a finite positive rate.
TEST(StreamRead, AnySizeOnAnyThreadCount) {
  const int threads = base::NumThreads();
  for (int t : {1, 2, 3})
    for (int64_t bytes : {int64_t(1) << 20, (int64_t(1) << 20) + 8 * 13, int64_t(5000)}) {
      base::SetNumThreads(t);
      const double gbs = StreamReadBandwidth(bytes, 1);
      EXPECT_TRUE(std::isfinite(gbs) && gbs > 0) << t << " threads, " << bytes << " bytes: " << gbs;
    }
  base::SetNumThreads(threads);
}

}  // namespace
}  // namespace t81::kernels
