#include "t81/quant/tq.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "t81/base/fp16.h"
#include "t81/base/rng.h"

namespace t81::quant {
namespace {

// Vectors made by ggml's own quantize_row_tq{1,2}_0_ref (tests/scripts/make_tq_vectors.py).
struct Vectors {
  uint32_t nb = 0;
  std::vector<float> x;
  std::vector<uint8_t> tq1, tq2;
};

Vectors LoadVectors() {
  Vectors v;
  const std::string path = std::string(T81_TEST_DATA) + "/tq_vectors.bin";
  FILE* f = std::fopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  if (!f) return v;
  char magic[8];
  EXPECT_EQ(std::fread(magic, 1, 8, f), 8u);
  EXPECT_EQ(std::memcmp(magic, "T81TQV1\0", 8), 0);
  EXPECT_EQ(std::fread(&v.nb, 4, 1, f), 1u);
  v.x.resize(size_t(v.nb) * 256);
  v.tq1.resize(size_t(v.nb) * 54);
  v.tq2.resize(size_t(v.nb) * 66);
  EXPECT_EQ(std::fread(v.x.data(), 4, v.x.size(), f), v.x.size());
  EXPECT_EQ(std::fread(v.tq1.data(), 1, v.tq1.size(), f), v.tq1.size());
  EXPECT_EQ(std::fread(v.tq2.data(), 1, v.tq2.size(), f), v.tq2.size());
  std::fclose(f);
  return v;
}

// The input blocks are t·d with absmax = d: recover t and d and pack with t81's packer.
void TritsAndScale(const float* x, int8_t* t, float* d) {
  float amax = 0;
  for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(x[i]));
  *d = amax;
  for (int i = 0; i < 256; ++i) t[i] = amax == 0 ? 0 : int8_t(x[i] / amax);
}

TEST(TqBytes, MatchGgmlReference) {
  const Vectors v = LoadVectors();
  ASSERT_EQ(v.nb, 64u);
  int8_t t[256], back[256];
  float d;
  for (uint32_t b = 0; b < v.nb; ++b) {
    TritsAndScale(v.x.data() + b * 256, t, &d);
    BlockTq1_0 b1;
    PackBlockTq1_0(t, d, &b1);
    EXPECT_EQ(std::memcmp(&b1, v.tq1.data() + b * 54, 54), 0) << "tq1_0 block " << b;
    BlockTq2_0 b2;
    PackBlockTq2_0(t, d, &b2);
    EXPECT_EQ(std::memcmp(&b2, v.tq2.data() + b * 66, 66), 0) << "tq2_0 block " << b;
    // Decoding ggml's bytes gives back the trits and the scale.
    std::memcpy(&b1, v.tq1.data() + b * 54, 54);
    UnpackBlockTq1_0(b1, back);
    EXPECT_EQ(std::memcmp(back, t, 256), 0) << "tq1_0 decode " << b;
    EXPECT_EQ(BlockScale(b1), d);
    std::memcpy(&b2, v.tq2.data() + b * 66, 66);
    UnpackBlockTq2_0(b2, back);
    EXPECT_EQ(std::memcmp(back, t, 256), 0) << "tq2_0 decode " << b;
  }
}

TEST(TqBlock, EveryCodeRoundTrips) {
  // Each of the 3^5 = 243 digit patterns at every TQ1_0 byte position, and all TQ2_0 codes.
  int8_t t[256], back[256];
  for (int pattern = 0; pattern < 243; ++pattern) {
    for (int e = 0; e < 256; ++e) {
      int p = pattern;
      for (int k = 0; k < (e % 5); ++k) p /= 3;
      t[e] = int8_t(p % 3 - 1);
    }
    BlockTq1_0 b1;
    PackBlockTq1_0(t, 0.5f, &b1);
    UnpackBlockTq1_0(b1, back);
    ASSERT_EQ(std::memcmp(t, back, 256), 0) << pattern;
    BlockTq2_0 b2;
    PackBlockTq2_0(t, 0.5f, &b2);
    UnpackBlockTq2_0(b2, back);
    ASSERT_EQ(std::memcmp(t, back, 256), 0) << pattern;
  }
}

class TqMatrix : public ::testing::TestWithParam<std::tuple<TqFormat, int, int>> {};

TEST_P(TqMatrix, PackUnpackExactWithPadding) {
  const auto [fmt, rows, cols] = GetParam();
  base::Rng rng(uint64_t(rows * 1000 + cols));
  std::vector<float> w(size_t(rows * cols));
  for (float& x : w) x = float(rng.Normal());
  for (Granularity g : {Granularity::kTensor, Granularity::kRow, Granularity::kBlock}) {
    const int64_t kb = BlocksPerRow(cols);
    std::vector<int8_t> t(w.size()), t2(w.size());
    std::vector<float> s(size_t(rows * kb)), s2(s.size());
    Ternarize(w.data(), rows, cols, g, 0.45f, t.data(), s.data());
    const TernaryMatrix m = PackTernary(t.data(), s.data(), rows, cols, fmt);
    EXPECT_EQ(m.bytes(), rows * kb * TqBlockBytes(fmt));  // padding counted
    UnpackTernary(m, t2.data(), s2.data());
    EXPECT_EQ(t, t2);
    EXPECT_EQ(s, s2);  // scales are fp16 values already: exact
    std::vector<float> deq(w.size()), fq(w.size());
    Dequantize(m, deq.data());
    FakeQuantize(w.data(), rows, cols, g, 0.45f, fq.data());
    EXPECT_EQ(deq, fq);  // packed storage == QAT fake-quant, bit for bit
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, TqMatrix,
                         ::testing::Combine(::testing::Values(TqFormat::kTq1_0, TqFormat::kTq2_0),
                                            ::testing::Values(1, 3, 10),
                                            ::testing::Values(1, 255, 256, 784, 1000)));

}  // namespace
}  // namespace t81::quant
