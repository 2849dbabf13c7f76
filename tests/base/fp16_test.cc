#include "t81/base/fp16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace t81::base {
namespace {

TEST(Fp16, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t v = uint16_t(h);
    const float f = Fp16ToFp32(v);
    if (std::isnan(f)) continue;
    EXPECT_EQ(Fp32ToFp16(f), v) << "half 0x" << std::hex << h;
  }
}

TEST(Fp16, KnownValues) {
  EXPECT_EQ(Fp32ToFp16(1.0f), 0x3c00);
  EXPECT_EQ(Fp32ToFp16(-2.0f), 0xc000);
  EXPECT_EQ(Fp32ToFp16(65504.0f), 0x7bff);
  EXPECT_EQ(Fp32ToFp16(1e6f), 0x7c00);            // overflow -> inf
  EXPECT_EQ(Fp32ToFp16(5.9604645e-8f), 0x0001);   // smallest subnormal
  EXPECT_EQ(Fp32ToFp16(2.0e-8f), 0x0000);         // below half of it -> 0
  EXPECT_FLOAT_EQ(Fp16ToFp32(0x3555), 0.333251953125f);
}

// The midpoint between two neighbouring halves rounds to the one with an even mantissa,
// and anything off the midpoint rounds to the nearer one.
TEST(Fp16, RoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    const double a = Fp16ToFp32(uint16_t(h)), b = Fp16ToFp32(uint16_t(h + 1));
    const float mid = float(0.5 * (a + b));
    ASSERT_EQ(double(mid), 0.5 * (a + b));  // exactly representable in float
    EXPECT_EQ(Fp32ToFp16(mid), (h & 1) ? h + 1 : h) << h;
    const float above = std::nextafter(mid, 1e9f), below = std::nextafter(mid, -1e9f);
    EXPECT_EQ(Fp32ToFp16(above), h + 1) << h;
    EXPECT_EQ(Fp32ToFp16(below), h) << h;
  }
}

}  // namespace
}  // namespace t81::base
