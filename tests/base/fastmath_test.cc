// The vectorizable float exp / tanh / erf against libm in double, over their whole useful range.
#include "t81/base/fastmath.h"

#include <gtest/gtest.h>

#include <cmath>

namespace t81::base {
namespace {

TEST(FastMath, ExpFRelativeErrorBelow2e7) {
  double worst = 0;
  for (double x = -87.0; x <= 88.0; x += 1.0 / 1024) {
    const double want = std::exp(double(float(x)));
    worst = std::max(worst, std::abs(double(ExpF(float(x))) - want) / want);
  }
  EXPECT_LT(worst, 2e-7);
  EXPECT_EQ(ExpF(-200.0f), ExpF(-87.3f));  // clamped, not garbage
  EXPECT_GT(ExpF(-87.3f), 0.0f);
}

TEST(FastMath, ErfFAbsoluteErrorBelow5e7AndOdd) {
  double worst = 0;
  for (double x = -8.0; x <= 8.0; x += 1.0 / 4096) {
    const float xf = float(x);
    worst = std::max(worst, std::abs(double(ErfF(xf)) - std::erf(double(xf))));
    ASSERT_EQ(ErfF(-xf), -ErfF(xf)) << xf;
  }
  EXPECT_LT(worst, 5e-7);
  EXPECT_EQ(ErfF(0.0f), 0.0f);
  EXPECT_EQ(ErfF(30.0f), 1.0f);
  EXPECT_EQ(ErfF(-30.0f), -1.0f);
}

TEST(FastMath, TanhFAbsoluteErrorBelow3e7) {
  double worst = 0;
  for (double x = -20.0; x <= 20.0; x += 1.0 / 1024)
    worst = std::max(worst, std::abs(double(TanhF(float(x))) - std::tanh(double(float(x)))));
  EXPECT_LT(worst, 3e-7);
}

}  // namespace
}  // namespace t81::base
