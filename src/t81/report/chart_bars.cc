// Grouped bar charts: one group per model or shape, one bar per series, a range drawn as an error
// bar with caps, the value written above each bar.
#include <algorithm>
#include <cmath>

#include "t81/report/chart.h"
#include "t81/report/chart_frame.h"

namespace t81::report {

using namespace internal;

std::string DrawBars(const BarChart& c) {
  double top = 0;
  bool any = false;
  for (const BarGroup& g : c.groups)
    for (const Bar& b : g.bars) {
      if (std::isfinite(b.value)) top = std::max(top, b.value), any = true;
      if (std::isfinite(b.hi)) top = std::max(top, b.hi);
    }
  if (!any) return DrawNoData(c.id, c.title, "no measured values in the files read");
  // 8 % headroom so the value written above the tallest bar or range stays inside the plot.
  const Axis y = LinearAxis(0, top * 1.08, /*from_zero=*/true, c.y_label);
  Svg s(kWidth, kHeight, c.id, c.title);
  DrawFrame(s, c.title, y);
  const double gw = (kPlotX1 - kPlotX0) / double(c.groups.size());
  const double bw = gw * 0.8 / double(std::max<size_t>(1, c.series.size()));
  const double base = y.Map(0, kPlotY1, kPlotY0);
  for (size_t gi = 0; gi < c.groups.size(); ++gi) {
    const BarGroup& g = c.groups[gi];
    const double gx = kPlotX0 + gw * double(gi) + gw * 0.1;
    std::string label = g.label;
    s.Text(kPlotX0 + gw * (double(gi) + 0.5), kPlotY1 + 18, label, "middle", 11, "class=\"group-label\"");
    for (size_t si = 0; si < g.bars.size() && si < c.series.size(); ++si) {
      const Bar& b = g.bars[si];
      const double x = gx + bw * double(si);
      const std::string who = "data-series=\"" + Escape(c.series[si]) + "\" data-group=\"" + Escape(g.label) + "\"";
      if (!std::isfinite(b.value)) {
        s.Text(x + bw / 2, base - 4, "n/a", "middle", 10, "class=\"missing\" " + who);
        continue;
      }
      const double py = y.Map(b.value, kPlotY1, kPlotY0);
      s.Rect(x, py, bw * 0.92, base - py, Colour(si), "class=\"bar\" " + who + " data-value=\"" + Num(b.value) + "\"");
      double label_y = py - 4;
      if (std::isfinite(b.lo) && std::isfinite(b.hi)) {
        const double cx = x + bw * 0.46, ylo = y.Map(b.lo, kPlotY1, kPlotY0), yhi = y.Map(b.hi, kPlotY1, kPlotY0);
        s.Open("class=\"range\" " + who + " data-lo=\"" + Num(b.lo) + "\" data-hi=\"" + Num(b.hi) + "\"");
        s.Line(cx, ylo, cx, yhi, "#000000", 1.5);
        s.Line(cx - 4, ylo, cx + 4, ylo, "#000000", 1.5);
        s.Line(cx - 4, yhi, cx + 4, yhi, "#000000", 1.5);
        s.Close();
        label_y = std::min(label_y, yhi - 4);
      }
      s.Text(x + bw * 0.46, label_y, ValueLabel(b.value), "middle", 10, "class=\"value\"");
    }
  }
  DrawLegend(s, c.series, /*lines=*/false);
  return s.Finish();
}

}  // namespace t81::report
