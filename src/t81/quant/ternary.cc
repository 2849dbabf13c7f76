#include "t81/quant/ternary.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "t81/base/check.h"
#include "t81/base/fp16.h"

namespace t81::quant {

Result<Granularity> ParseGranularity(std::string_view s) {
  if (s == "tensor") return Granularity::kTensor;
  if (s == "row") return Granularity::kRow;
  if (s == "block") return Granularity::kBlock;
  return Error("unknown granularity '" + std::string(s) + "' (expected tensor, row or block)");
}

const char* GranularityName(Granularity g) {
  switch (g) {
    case Granularity::kTensor: return "tensor";
    case Granularity::kRow: return "row";
    case Granularity::kBlock: return "block";
  }
  return "?";
}

namespace {

double MeanAbs(const float* w, int64_t n) {
  double sum = 0;  // double: the result does not depend on vector width or summation order
  for (int64_t i = 0; i < n; ++i) sum += std::fabs(double(w[i]));
  return sum / double(n);
}

// Ternarizes one group w[0..n) against Δ = delta into out; returns α, fp16-rounded.
float TernarizeGroup(const float* w, int64_t n, double delta, int8_t* out) {
  double kept_sum = 0;
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(double(w[i]));
    int8_t t = 0;
    if (a > delta) {
      t = w[i] > 0 ? 1 : -1;
      kept_sum += a;
      ++kept;
    }
    out[i] = t;
  }
  if (kept == 0) return 0.0f;
  float alpha = float(kept_sum / double(kept));
  if (!(alpha <= 65504.0f)) alpha = 65504.0f;  // fp16 max: keep the scale finite
  return base::RoundToFp16(alpha);
}

}  // namespace

void Ternarize(const float* w, int64_t rows, int64_t cols, Granularity g, float threshold,
               int8_t* trits, float* block_scales) {
  T81_CHECK(threshold > 0, "threshold must be positive");
  T81_CHECK(rows >= 0 && cols >= 0);
  const int64_t kb = BlocksPerRow(cols);
  if (rows == 0 || cols == 0) return;
  if (g == Granularity::kTensor) {
    const int64_t n = rows * cols;
    const float alpha = TernarizeGroup(w, n, threshold * MeanAbs(w, n), trits);
    for (int64_t i = 0; i < rows * kb; ++i) block_scales[i] = alpha;
    return;
  }
  // Rows in parallel (row and block groups): each group's result is the same on any thread count.
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 18))
  for (int64_t r = 0; r < rows; ++r) {
    const float* wr = w + r * cols;
    int8_t* tr = trits + r * cols;
    if (g == Granularity::kRow) {
      const float alpha = TernarizeGroup(wr, cols, threshold * MeanAbs(wr, cols), tr);
      for (int64_t b = 0; b < kb; ++b) block_scales[r * kb + b] = alpha;
    } else {
      for (int64_t b = 0; b < kb; ++b) {
        const int64_t len = std::min<int64_t>(kBlock, cols - b * kBlock);
        const float* wb = wr + b * kBlock;
        block_scales[r * kb + b] =
            TernarizeGroup(wb, len, threshold * MeanAbs(wb, len), tr + b * kBlock);
      }
    }
  }
}

void FakeQuantize(const float* w, int64_t rows, int64_t cols, Granularity g, float threshold,
                  float* out) {
  const int64_t kb = BlocksPerRow(cols);
  if (g == Granularity::kTensor) {
    std::vector<int8_t> trits(size_t(rows * cols));
    std::vector<float> scales(size_t(rows * kb));
    Ternarize(w, rows, cols, g, threshold, trits.data(), scales.data());
    for (int64_t i = 0; i < rows * cols; ++i) out[i] = scales[0] * float(trits[size_t(i)]);
    return;
  }
  // Row and block groups: one row at a time per thread, through a row-sized trit buffer.
#pragma omp parallel if (rows * cols > (1 << 18))
  {
    std::vector<int8_t> t(static_cast<size_t>(cols));
    std::vector<float> d(static_cast<size_t>(kb));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      Ternarize(w + r * cols, 1, cols, g, threshold, t.data(), d.data());
      for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = d[size_t(c / kBlock)] * float(t[size_t(c)]);
    }
  }
}

}  // namespace t81::quant
