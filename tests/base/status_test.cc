#include "t81/base/status.h"

#include <gtest/gtest.h>

#include "t81/base/rng.h"

namespace t81 {
namespace {

Result<int> Half(int v) {
  if (v % 2) return Error("odd: " + std::to_string(v));
  return v / 2;
}

Status Chain(int v, int* out) {
  T81_ASSIGN_OR_RETURN(int h, Half(v));
  T81_ASSIGN_OR_RETURN(*out, Half(h));
  return OkStatus();
}

TEST(Status, PropagatesFirstError) {
  int out = 0;
  EXPECT_TRUE(Chain(8, &out).ok());
  EXPECT_EQ(out, 2);
  const Status s = Chain(6, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "odd: 3");
}

TEST(Rng, SameSeedSameStream) {
  base::Rng a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= x != c.Next();
  }
  EXPECT_TRUE(differs);
  base::Rng r(1);
  double sum = 0, sq = 0;
  for (int i = 0; i < 20000; ++i) {
    const double v = r.Normal();
    sum += v;
    sq += v * v;
  }
  EXPECT_NEAR(sum / 20000, 0.0, 0.03);
  EXPECT_NEAR(sq / 20000, 1.0, 0.05);
}

}  // namespace
}  // namespace t81
