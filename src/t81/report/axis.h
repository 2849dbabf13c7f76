// Chart axes: the value range a chart shows, its "nice" tick values (1, 2, 2.5, 5 × 10^k, or
// decades on a log axis) and the mapping from a value to a pixel.
#pragma once

#include <string>
#include <vector>

namespace t81::report {

struct Axis {
  double lo = 0, hi = 1;  // the range shown (on a log axis: positive, decade-aligned)
  bool log = false;
  std::vector<double> ticks;
  std::string label;  // with the unit, e.g. "GFLOP/s"
  // v's pixel between p0 (at lo) and p1 (at hi).
  double Map(double v, double p0, double p1) const;
};

// A linear axis covering [lo, hi] with about `target` ticks; from_zero widens the range to include 0.
// lo == hi (one value) gets a range around it.
Axis LinearAxis(double lo, double hi, bool from_zero, const std::string& label, int target = 5);
// A log10 axis covering [lo, hi] (both > 0), from the decade at or below lo to the one at or above
// hi; ticks at each decade, and at 2 and 5 times it when the axis spans at most two decades.
Axis LogAxis(double lo, double hi, const std::string& label);
// A tick's text: up to 4 significant digits, thousands as "k", millions as "M" (1500 -> "1.5k").
std::string TickLabel(double v);

}  // namespace t81::report
