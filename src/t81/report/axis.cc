#include "t81/report/axis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace t81::report {

double Axis::Map(double v, double p0, double p1) const {
  double t;
  if (log) t = (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
  else t = (v - lo) / (hi - lo);
  return p0 + t * (p1 - p0);
}

namespace {

// The nice step (1, 2, 2.5, 5 × 10^k) closest above span / target.
double NiceStep(double span, int target) {
  const double raw = span / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw * (1 - 1e-12)) return m * mag;
  return 10 * mag;
}

}  // namespace

Axis LinearAxis(double lo, double hi, bool from_zero, const std::string& label, int target) {
  Axis a;
  a.label = label;
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (from_zero) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  if (hi - lo <= std::max(std::fabs(hi), std::fabs(lo)) * 1e-12) {  // one value
    const double d = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
    lo = from_zero && lo >= 0 ? 0 : lo - d;
    hi = hi + d;
  }
  const double step = NiceStep(hi - lo, target);
  a.lo = std::floor(lo / step + 1e-9) * step;
  a.hi = std::ceil(hi / step - 1e-9) * step;
  const int n = int(std::llround((a.hi - a.lo) / step));
  for (int i = 0; i <= n; ++i) {
    const double t = a.lo + step * i;
    a.ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  }
  return a;
}

Axis LogAxis(double lo, double hi, const std::string& label) {
  Axis a;
  a.label = label;
  a.log = true;
  if (!(lo > 0) || !std::isfinite(lo)) lo = 1;
  if (!(hi > 0) || !std::isfinite(hi)) hi = lo;
  if (lo > hi) std::swap(lo, hi);
  int d0 = int(std::floor(std::log10(lo) + 1e-9)), d1 = int(std::ceil(std::log10(hi) - 1e-9));
  if (d1 <= d0) d1 = d0 + 1;
  a.lo = std::pow(10.0, d0);
  a.hi = std::pow(10.0, d1);
  for (int d = d0; d <= d1; ++d) {
    a.ticks.push_back(std::pow(10.0, d));
    if (d1 - d0 <= 2 && d < d1)  // few decades: 2 and 5 between them too
      for (double m : {2.0, 5.0}) a.ticks.push_back(m * std::pow(10.0, d));
  }
  std::sort(a.ticks.begin(), a.ticks.end());
  return a;
}

std::string TickLabel(double v) {
  const double av = std::fabs(v);
  const char* suffix = "";
  double x = v;
  if (av >= 1e9) x = v / 1e9, suffix = "G";
  else if (av >= 1e6) x = v / 1e6, suffix = "M";
  else if (av >= 1e4) x = v / 1e3, suffix = "k";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g%s", x, suffix);
  return buf;
}

}  // namespace t81::report
