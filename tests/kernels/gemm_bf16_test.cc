// kernels::GemmBf16 (the AMX tile unit) against a double-precision product of the bf16-rounded
// operands, in all four transposition forms, at sizes that are no multiple of the 32-blocks.
// Skipped where the CPU lacks AMX-BF16.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "t81/base/rng.h"
#include "t81/kernels/kernels.h"

namespace t81::kernels {
namespace {

// The scalar reference of VCVTNEPS2BF16: nearest even; denormals to signed zero; NaN stays NaN.
float RoundBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0) {
    u &= 0x80000000u;
  } else if ((u & 0x7fffffffu) > 0x7f800000u) {
    u |= 0x00400000u;  // quiet
    u &= 0xffff0000u;
  } else {
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
  }
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

struct Case {
  bool ta, tb;
  int64_t M, N, K;
  float beta;
};

class GemmBf16Test : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!AmxBf16Supported()) GTEST_SKIP() << "no AMX-BF16 here";
  }
};

TEST_P(GemmBf16Test, MatchesDoubleProductOfRoundedOperands) {
  const Case p = GetParam();
  base::Rng rng(uint64_t(p.M * 131 + p.N * 17 + p.K) + (p.ta ? 1000 : 0) + (p.tb ? 2000 : 0));
  // Padded leading dimensions: the kernel must honour lda/ldb/ldc, not assume dense rows.
  const int64_t lda = (p.ta ? p.M : p.K) + 3, ldb = (p.tb ? p.K : p.N) + 5, ldc = p.N + 7;
  const int64_t arows = p.ta ? p.K : p.M, brows = p.tb ? p.N : p.K;
  std::vector<float> a(size_t(arows * lda)), b(size_t(brows * ldb)), c(size_t(p.M * ldc));
  for (float& x : a) x = float(rng.Normal());
  for (float& x : b) x = float(rng.Normal());
  for (float& x : c) x = float(rng.Normal());
  const std::vector<float> c0 = c;
  GemmBf16(p.ta, p.tb, p.M, p.N, p.K, a.data(), lda, b.data(), ldb, p.beta, c.data(), ldc);
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) {
      double s = 0, mag = 0;
      for (int64_t k = 0; k < p.K; ++k) {
        const double x = RoundBf16(p.ta ? a[size_t(k * lda + i)] : a[size_t(i * lda + k)]);
        const double y = RoundBf16(p.tb ? b[size_t(j * ldb + k)] : b[size_t(k * ldb + j)]);
        s += x * y;
        mag += std::fabs(x * y);
      }
      const double want = (p.beta == 0 ? 0.0 : double(p.beta) * c0[size_t(i * ldc + j)]) + s;
      // f32 sums of exact bf16 products: a few ulps of the magnitude.
      ASSERT_NEAR(c[size_t(i * ldc + j)], want, 1e-6 * (mag + std::fabs(want)) + 1e-30)
          << "row " << i << " col " << j;
    }
  // Padding columns of C untouched.
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = p.N; j < ldc; ++j) ASSERT_EQ(c[size_t(i * ldc + j)], c0[size_t(i * ldc + j)]);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GemmBf16Test,
                         ::testing::Values(Case{false, true, 1, 1, 1, 0.0f}, Case{false, true, 17, 10, 49, 1.0f},
                                           Case{false, true, 100, 70, 64, 0.0f},
                                           Case{false, false, 33, 31, 65, 1.0f},
                                           Case{false, false, 64, 96, 192, 0.5f},
                                           Case{true, false, 40, 33, 100, 1.0f},
                                           Case{true, false, 96, 64, 37, 0.0f}, Case{true, true, 35, 47, 71, 1.0f},
                                           Case{false, true, 200, 300, 256, 1.0f},
                                           // several row tiles, column tiles and k steps per packed operand
                                           Case{true, false, 200, 70, 300, 1.0f}, Case{true, true, 90, 130, 300, 0.0f},
                                           Case{false, false, 50, 200, 300, 1.0f}));

TEST(GemmBf16, AddsABiasToEveryRow) {
  if (!AmxBf16Supported()) GTEST_SKIP() << "no AMX-BF16 here";
  base::Rng rng(5);
  for (const int64_t M : {64, 70})  // whole 32-blocks (bias loaded into the tiles) and a ragged edge
    for (const int64_t N : {64, 50}) {
      const int64_t K = 40;
      std::vector<float> x(size_t(M * K)), w(size_t(N * K)), bias(static_cast<size_t>(N)), y(size_t(M * N), NAN);
      for (float& v : x) v = float(rng.Normal());
      for (float& v : w) v = float(rng.Normal());
      for (float& v : bias) v = float(rng.Normal() * 10);
      GemmBf16(false, true, M, N, K, x.data(), K, w.data(), K, 0.0f, y.data(), N, bias.data());
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double s = bias[size_t(j)], mag = std::fabs(s);
          for (int64_t k = 0; k < K; ++k) {
            const double p = double(RoundBf16(x[size_t(i * K + k)])) * RoundBf16(w[size_t(j * K + k)]);
            s += p;
            mag += std::fabs(p);
          }
          ASSERT_NEAR(y[size_t(i * N + j)], s, 1e-6 * mag) << M << "x" << N << " row " << i << " col " << j;
        }
    }
}

TEST(GemmBf16, RoundsToNearestEvenAndIsThreadInvariant) {
  if (!AmxBf16Supported()) GTEST_SKIP() << "no AMX-BF16 here";
  // 1 + 2^-8 is a tie between bf16 1 and 1 + 2^-7: nearest even is 1. 1 + 3·2^-9 rounds up.
  const float a[2] = {1.0f + 1.0f / 256, 1.0f + 3.0f / 512};
  const float one[2] = {1.0f, 1.0f};
  float c[2] = {0, 0};
  GemmBf16(false, true, 2, 1, 1, a, 1, one, 1, 0.0f, c, 1);
  EXPECT_EQ(c[0], 1.0f);
  EXPECT_EQ(c[1], 1.0f + 1.0f / 128);
  EXPECT_EQ(RoundBf16(a[0]), 1.0f);
  // The same bytes on 1 and 2 threads (each 32-row block is one thread's).
  base::Rng rng(9);
  const int64_t M = 130, N = 70, K = 90;
  std::vector<float> x(size_t(M * K)), w(size_t(N * K)), y1(size_t(M * N)), y2(size_t(M * N));
  for (float& v : x) v = float(rng.Normal());
  for (float& v : w) v = float(rng.Normal());
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  GemmBf16(false, true, M, N, K, x.data(), K, w.data(), K, 0.0f, y1.data(), N);
  omp_set_num_threads(2);
  GemmBf16(false, true, M, N, K, x.data(), K, w.data(), K, 0.0f, y2.data(), N);
  omp_set_num_threads(saved);
  EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * 4));
}

}  // namespace
}  // namespace t81::kernels

namespace t81::kernels {
namespace {

// An epilogue (GELU of C, or GELU's backward from C) gives the bytes of the same product followed
// by the table's function on every row, at a ragged shape and a whole-block one.
TEST(GemmBf16, EpilogueEqualsTheStepAfterTheProduct) {
  if (!AmxBf16Supported()) GTEST_SKIP() << "no AMX-BF16 here";
  const KernelTable& kt = Active();
  base::Rng rng(11);
  for (const int64_t M : {70, 128})
    for (const int64_t N : {50, 96}) {
      const int64_t K = 72;
      std::vector<float> x(size_t(M * K)), w(size_t(N * K)), up(size_t(M * N));
      for (float& v : x) v = float(rng.Normal());
      for (float& v : w) v = float(rng.Normal());
      for (float& v : up) v = float(rng.Normal());
      std::vector<float> c1(size_t(M * N)), c2(size_t(M * N)), y1(size_t(M * N)), y2(size_t(M * N));
      GemmBf16(false, true, M, N, K, x.data(), K, w.data(), K, 0.0f, c1.data(), N);
      for (int64_t i = 0; i < M; ++i) kt.gelu_erf(y1.data() + i * N, c1.data() + i * N, N);
      GemmEpilogue act;
      act.unary = kt.gelu_erf;
      act.out = y2.data();
      act.ld = N;
      GemmBf16(false, true, M, N, K, x.data(), K, w.data(), K, 0.0f, c2.data(), N, nullptr, &act);
      EXPECT_EQ(c1, c2) << M << "x" << N;
      EXPECT_EQ(y1, y2) << M << "x" << N;
      // backward form: d += GELU'(up) · C, into a buffer that held values
      std::vector<float> d1(up.size(), 0.25f), d2 = d1;
      for (int64_t i = 0; i < M; ++i) kt.gelu_erf_backward(d1.data() + i * N, up.data() + i * N, c1.data() + i * N, N);
      GemmEpilogue back;
      back.backward = kt.gelu_erf_backward;
      back.in = up.data();
      back.out = d2.data();
      back.ld = N;
      GemmBf16(false, true, M, N, K, x.data(), K, w.data(), K, 0.0f, c2.data(), N, nullptr, &back);
      EXPECT_EQ(d1, d2) << M << "x" << N;
    }
}

}  // namespace
}  // namespace t81::kernels
