// Branch-free float exp that compilers vectorize (no libm call): Cephes-style range reduction
// and a degree-6 polynomial; relative error below 2e-7 on [-87, 88], 0 below, +inf above.
// Always inlined: the per-ISA kernel files include these too, and an out-of-line copy compiled
// with their flags must never be what baseline code links to.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace t81::base {

[[gnu::always_inline]] inline float ExpF(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  // n = round(x / ln 2) by the 1.5·2^23 trick (round half to even, no call)
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return e * scale;
}

// tanh through ExpF: 1 - 2 / (exp(2x) + 1).
[[gnu::always_inline]] inline float TanhF(float x) { return 1.0f - 2.0f / (ExpF(2.0f * x) + 1.0f); }

// Branch-free float erf that compilers vectorize: Abramowitz & Stegun 7.1.26,
// erf(|x|) = 1 - t·P(t)·exp(-x²) with t = 1 / (1 + p|x|); absolute error below 5e-7 (the
// formula's 1.5e-7 plus float rounding). Meant for GELU's 1 + erf(x/√2), where an absolute
// error is what counts.
// ErfWithExp takes e = exp(-x²) from the caller (GELU's backward needs that exponential too).
[[gnu::always_inline]] inline float ErfWithExp(float x, float e) {
  const float a = std::fabs(x);  // one reciprocal for both signs (a select of ±x made GCC divide twice)
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float y = 1.0f - p * t * e;
  return x < 0.0f ? -y : y;
}
[[gnu::always_inline]] inline float ErfF(float x) { return ErfWithExp(x, ExpF(-x * x)); }

}  // namespace t81::base
