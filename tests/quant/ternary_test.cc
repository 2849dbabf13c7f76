#include "t81/quant/ternary.h"

#include <gtest/gtest.h>

#include <vector>

#include "t81/base/fp16.h"
#include "t81/base/rng.h"

namespace t81::quant {
namespace {

struct Out {
  std::vector<int8_t> t;
  std::vector<float> s;
};

Out Quant(const std::vector<float>& w, int64_t rows, int64_t cols, Granularity g, float thr) {
  Out o;
  o.t.resize(w.size());
  o.s.resize(size_t(rows * BlocksPerRow(cols)));
  Ternarize(w.data(), rows, cols, g, thr, o.t.data(), o.s.data());
  return o;
}

TEST(Ternarize, HandComputedTensor) {
  // mean|w| = (0.1+0.5+0.9+0.3+0.2+0.0)/6 = 2.0/6; Δ = 0.5·(1/3) = 1/6 ≈ 0.1667.
  // kept: -0.5, 0.9, 0.3, -0.2 -> α = 1.9/4 = 0.475.
  const std::vector<float> w = {0.1f, -0.5f, 0.9f, 0.3f, -0.2f, 0.0f};
  const Out o = Quant(w, 2, 3, Granularity::kTensor, 0.5f);
  EXPECT_EQ(o.t, (std::vector<int8_t>{0, -1, 1, 1, -1, 0}));
  ASSERT_EQ(o.s.size(), 2u);
  EXPECT_EQ(o.s[0], base::RoundToFp16(0.475f));
  EXPECT_EQ(o.s[1], o.s[0]);
}

TEST(Ternarize, HandComputedRow) {
  // row 0: mean 0.4, Δ 0.2: kept 0.9(+), -0.3(-) -> α 0.6; row 1: mean 2, Δ 1: kept 3 -> α 3.
  const std::vector<float> w = {0.0f, 0.9f, -0.3f, 1.0f, 2.0f, -3.0f};
  const Out o = Quant(w, 2, 3, Granularity::kRow, 0.5f);
  EXPECT_EQ(o.t, (std::vector<int8_t>{0, 1, -1, 0, 1, -1}));
  EXPECT_EQ(o.s[0], base::RoundToFp16(0.6f));
  EXPECT_EQ(o.s[1], base::RoundToFp16(2.5f));
}

TEST(Ternarize, ExactlyDeltaIsZero) {
  // all |w| = 1: mean 1, threshold 1 -> Δ = 1; |w| > Δ is false for all: all zero, α = 0.
  const std::vector<float> w = {1.0f, -1.0f, 1.0f, -1.0f};
  const Out o = Quant(w, 1, 4, Granularity::kRow, 1.0f);
  EXPECT_EQ(o.t, (std::vector<int8_t>{0, 0, 0, 0}));
  EXPECT_EQ(o.s[0], 0.0f);
  // Just below: threshold 0.999 keeps all, α = 1.
  const Out k = Quant(w, 1, 4, Granularity::kRow, 0.999f);
  EXPECT_EQ(k.t, (std::vector<int8_t>{1, -1, 1, -1}));
  EXPECT_EQ(k.s[0], 1.0f);
}

TEST(Ternarize, AllZeroGroup) {
  const std::vector<float> w(300, 0.0f);
  for (Granularity g : {Granularity::kTensor, Granularity::kRow, Granularity::kBlock}) {
    const Out o = Quant(w, 1, 300, g, 0.45f);
    for (int8_t t : o.t) EXPECT_EQ(t, 0);
    for (float s : o.s) EXPECT_EQ(s, 0.0f);
  }
}

TEST(Ternarize, BlockGroupsIgnorePadding) {
  // 1 row, 258 cols: block 0 = 256 values of 0.01 except one 10; block 1 = {-4, 0} (2 elements).
  std::vector<float> w(258, 0.01f);
  w[5] = 10.0f;
  w[256] = -4.0f;
  w[257] = 0.0f;
  const Out o = Quant(w, 1, 258, Granularity::kBlock, 0.45f);
  ASSERT_EQ(o.s.size(), 2u);
  // block 0: mean = (255·0.01 + 10)/256 ≈ 0.049; Δ ≈ 0.022 -> only w[5] kept; α = 10.
  EXPECT_EQ(o.t[5], 1);
  EXPECT_EQ(o.t[0], 0);
  EXPECT_EQ(o.s[0], 10.0f);
  // block 1 over its 2 real elements: mean 2, Δ 0.9 -> -4 kept, α 4 (padding would halve Δ).
  EXPECT_EQ(o.t[256], -1);
  EXPECT_EQ(o.t[257], 0);
  EXPECT_EQ(o.s[1], 4.0f);
}

TEST(Ternarize, BlockVsRowDiffer) {
  // The first block is large, the second small: row granularity zeroes the small block,
  // block granularity keeps its own scale.
  std::vector<float> w(512);
  for (int i = 0; i < 256; ++i) w[i] = (i % 2 ? 1.0f : -1.0f);
  for (int i = 256; i < 512; ++i) w[i] = (i % 2 ? 0.01f : -0.01f);
  const Out row = Quant(w, 1, 512, Granularity::kRow, 0.45f);
  const Out blk = Quant(w, 1, 512, Granularity::kBlock, 0.45f);
  EXPECT_EQ(row.t[300], 0);
  EXPECT_EQ(blk.t[300], -1);  // w[300] = -0.01
}

TEST(FakeQuantize, EqualsScaleTimesTrit) {
  base::Rng rng(3);
  const int64_t rows = 7, cols = 600;
  std::vector<float> w(size_t(rows * cols));
  for (float& v : w) v = float(rng.Normal() * 0.02);
  for (Granularity g : {Granularity::kTensor, Granularity::kRow, Granularity::kBlock}) {
    const Out o = Quant(w, rows, cols, g, 0.45f);
    std::vector<float> fq(w.size());
    FakeQuantize(w.data(), rows, cols, g, 0.45f, fq.data());
    int nonzero = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const size_t i = size_t(r * cols + c);
        EXPECT_EQ(fq[i], o.s[size_t(r * BlocksPerRow(cols) + c / kBlock)] * float(o.t[i]));
        nonzero += o.t[i] != 0;
        // sign is preserved for every kept weight
        if (o.t[i] != 0) {
          EXPECT_EQ(o.t[i] > 0, w[i] > 0);
        }
      }
    // Gaussian weights with threshold 0.45·mean|w|: about 72% are kept, never ~0 (the seed's bug).
    EXPECT_GT(nonzero, int(0.6 * rows * cols)) << GranularityName(g);
    EXPECT_LT(nonzero, int(0.85 * rows * cols)) << GranularityName(g);
  }
}

TEST(Granularity, Parse) {
  EXPECT_EQ(ParseGranularity("row").value(), Granularity::kRow);
  EXPECT_FALSE(ParseGranularity("rows").ok());
}

}  // namespace
}  // namespace t81::quant
