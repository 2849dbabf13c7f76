// Internal to the chart drawers: the parts every chart shares (title, axes with ticks and
// labelled units, legend).
#pragma once

#include <string>
#include <vector>

#include "t81/report/axis.h"
#include "t81/report/chart.h"
#include "t81/report/svg.h"

namespace t81::report::internal {

inline constexpr double kPlotX0 = kLeft, kPlotX1 = kWidth - kRight, kPlotY0 = kTop, kPlotY1 = kHeight - kBottom;

// Title, plot area (class "plot") and the y axis (class "axis y", data-min / data-max / data-log).
void DrawFrame(Svg& s, const std::string& title, const Axis& y);
// The x axis of an x/y chart (class "axis x"), ticks and label.
void DrawXAxis(Svg& s, const Axis& x);
// The legend at the right: one swatch per series, colours Colour(0..).
void DrawLegend(Svg& s, const std::vector<std::string>& names, bool lines);
// A value as written beside a bar or a point (3 significant digits, k / M for large numbers).
std::string ValueLabel(double v);

}  // namespace t81::report::internal
