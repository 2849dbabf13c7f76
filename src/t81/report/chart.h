// The chart types of the report, each drawn as one self-contained SVG element: grouped bars with
// optional ranges (error bars), x/y points or lines, and the panel a chart becomes when its data
// is missing. Every drawn value carries its number in a data-* attribute (data-value, data-x,
// data-y, data-lo, data-hi; axes data-min / data-max), so tests and readers can check the
// picture against the input files.
#pragma once

#include <cmath>
#include <string>
#include <vector>

namespace t81::report {

// Frame of every chart (pixels): the plot area is [kLeft, kWidth - kRight] x [kTop, kHeight - kBottom].
inline constexpr double kWidth = 760, kHeight = 380, kLeft = 78, kRight = 190, kTop = 40, kBottom = 62;

struct Bar {
  double value = NAN;        // NAN: not measured (drawn as "n/a")
  double lo = NAN, hi = NAN;  // the range behind the value (NAN: none)
};
struct BarGroup {
  std::string label;      // under the group
  std::vector<Bar> bars;  // one per series, in BarChart::series order
};
struct BarChart {
  std::string id, title, y_label;  // y_label with its unit
  std::vector<std::string> series;
  std::vector<BarGroup> groups;
};

struct XYPoint {
  double x = 0, y = 0;
  std::string label;  // written beside the point (may be empty)
};
struct XYSeries {
  std::string name;
  std::vector<XYPoint> points;
  bool line = false;  // joined by a line (a curve) instead of separate markers
};
struct XYChart {
  std::string id, title, x_label, y_label;
  bool x_log = false, y_from_zero = false;
  std::vector<XYSeries> series;
};

std::string DrawBars(const BarChart& c);
std::string DrawXY(const XYChart& c);
// The panel of a chart whose data is missing: its title and "no data: <why>".
std::string DrawNoData(const std::string& id, const std::string& title, const std::string& why);

}  // namespace t81::report
