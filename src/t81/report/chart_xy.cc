// x/y charts: markers (accuracy against bytes, perplexity against size) or curves (loss against
// step), one colour per series, optional log x axis; and the "no data" panel.
#include <algorithm>
#include <cmath>
#include <limits>

#include "t81/report/chart.h"
#include "t81/report/chart_frame.h"

namespace t81::report {

using namespace internal;

std::string DrawXY(const XYChart& c) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  bool any = false;
  for (const XYSeries& se : c.series)
    for (const XYPoint& p : se.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y) || (c.x_log && !(p.x > 0))) continue;
      x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
      any = true;
    }
  if (!any) return DrawNoData(c.id, c.title, "no measured values in the files read");
  const Axis x = c.x_log ? LogAxis(x0, x1, c.x_label) : LinearAxis(x0, x1, false, c.x_label, 6);
  const Axis y = LinearAxis(y0, y1, c.y_from_zero, c.y_label);
  Svg s(kWidth, kHeight, c.id, c.title);
  DrawFrame(s, c.title, y);
  DrawXAxis(s, x);
  std::vector<std::string> names;
  bool lines = false;
  for (size_t si = 0; si < c.series.size(); ++si) {
    const XYSeries& se = c.series[si];
    names.push_back(se.name);
    lines = lines || se.line;
    s.Open("class=\"series\" data-series=\"" + Escape(se.name) + "\"");
    std::vector<std::pair<double, double>> pts;
    for (const XYPoint& p : se.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y) || (c.x_log && !(p.x > 0))) continue;
      const double px = x.Map(p.x, kPlotX0, kPlotX1), py = y.Map(p.y, kPlotY1, kPlotY0);
      pts.push_back({px, py});
      const std::string data = "data-x=\"" + Num(p.x) + "\" data-y=\"" + Num(p.y) + "\"";
      if (se.line) {
        if (se.points.size() <= 40) s.Circle(px, py, 2, Colour(si), "class=\"pt\" " + data);
      } else {
        s.Circle(px, py, 5, Colour(si), "class=\"pt\" stroke=\"#000000\" stroke-width=\"0.5\" " + data);
      }
      if (!p.label.empty()) s.Text(px + 8, py - 6, p.label, "start", 10, "class=\"point-label\"");
    }
    if (se.line && pts.size() > 1) s.Polyline(pts, Colour(si), 2, "class=\"curve\"");
    s.Close();
  }
  DrawLegend(s, names, lines);
  return s.Finish();
}

std::string DrawNoData(const std::string& id, const std::string& title, const std::string& why) {
  Svg s(kWidth, 140, id, title);
  s.Text(kPlotX0, 24, title, "start", 15, "font-weight=\"bold\" class=\"title\"");
  s.Rect(kPlotX0, 40, kWidth - kPlotX0 - 20, 80, "#f3f3f3",
         "class=\"nodata\" stroke=\"#999999\" stroke-width=\"1\" stroke-dasharray=\"6 4\"");
  s.Text(kPlotX0 + 16, 85, "no data: " + why, "start", 13, "class=\"nodata-text\"");
  return s.Finish();
}

}  // namespace t81::report
