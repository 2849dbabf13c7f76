// Wall-clock timing for benchmarks and progress lines.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace t81::base {

inline double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median of a non-empty sample (copied; the input order is kept).
inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

}  // namespace t81::base
