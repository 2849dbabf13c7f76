#include "t81/quant/q8_0.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

namespace t81::quant {
namespace {

// Vectors made by ggml's own quantize_row_q8_0_ref (tests/scripts/make_q8_vectors.py).
TEST(Q8_0, BytesMatchGgmlReference) {
  const std::string path = std::string(T81_TEST_DATA) + "/q8_vectors.bin";
  FILE* f = std::fopen(path.c_str(), "rb");
  ASSERT_NE(f, nullptr) << path;
  char magic[8];
  uint32_t nb = 0;
  ASSERT_EQ(std::fread(magic, 1, 8, f), 8u);
  ASSERT_EQ(std::memcmp(magic, "T81Q8V1\0", 8), 0);
  ASSERT_EQ(std::fread(&nb, 4, 1, f), 1u);
  std::vector<float> x(size_t(nb) * 32);
  std::vector<uint8_t> ref(size_t(nb) * 34), mine(ref.size());
  ASSERT_EQ(std::fread(x.data(), 4, x.size(), f), x.size());
  ASSERT_EQ(std::fread(ref.data(), 1, ref.size(), f), ref.size());
  std::fclose(f);
  QuantizeQ8_0(x.data(), int64_t(x.size()), mine.data());
  for (uint32_t b = 0; b < nb; ++b)
    EXPECT_EQ(std::memcmp(mine.data() + b * 34, ref.data() + b * 34, 34), 0) << "block " << b;
  std::vector<float> back(x.size());
  DequantizeQ8_0(mine.data(), int64_t(x.size()), back.data());
  for (size_t i = 0; i < x.size(); ++i) {
    float amax = 0;
    for (int k = 0; k < 32; ++k) amax = std::max(amax, std::fabs(x[i / 32 * 32 + k]));
    EXPECT_NEAR(back[i], x[i], amax / 127.0 * 0.5 + amax * 1e-3) << i;  // half a step + fp16 d
  }
}

}  // namespace
}  // namespace t81::quant
