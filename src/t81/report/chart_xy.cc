// x/y charts: markers (accuracy against bytes, perplexity against size) or curves (loss against
// step), one colour per series, optional log x axis; and the "no data" panel.
#include <algorithm>
#include <cmath>
#include <limits>

#include "t81/report/chart.h"
#include "t81/report/chart_frame.h"

namespace t81::report {

using namespace internal;

namespace {

struct Label {
  double px, py;
  std::string text;
};

// Series si's marker: a filled circle, a hollow square, a filled diamond (in turn), so points that
// coincide stay visible and the series differ by shape as well as colour.
void Marker(Svg& s, size_t si, double px, double py, const std::string& data) {
  const std::string cls = "class=\"pt\" " + data;
  switch (si % 3) {
    case 0: s.Circle(px, py, 5, Colour(si), cls + " stroke=\"#000000\" stroke-width=\"0.5\""); break;
    case 1: s.Rect(px - 5, py - 5, 10, 10, "none", cls + " stroke=\"" + std::string(Colour(si)) + "\" stroke-width=\"2\""); break;
    default:
      s.Rect(px - 3.5, py - 3.5, 7, 7, Colour(si),
             cls + " stroke=\"#000000\" stroke-width=\"0.5\" transform=\"rotate(45 " + Px(px) + " " + Px(py) + ")\"");
  }
}

// Point labels, each moved down or up past the labels already placed (about 6 px a character at
// size 10), and to the left of its point near the right edge.
void DrawLabels(Svg& s, const std::vector<Label>& labels) {
  struct Box {
    double x0, y0, x1, y1;
  };
  std::vector<Box> placed;
  for (const Label& l : labels) {
    const double w = 6.0 * double(l.text.size());
    const bool left = l.px + 8 + w > kPlotX1;
    const double x0 = left ? l.px - 8 - w : l.px + 8;
    double y = l.py - 6;
    for (int k = 0; k < 8; ++k) {
      y = l.py - 6 + (k % 2 ? 1 : -1) * 12.0 * double((k + 1) / 2);
      bool clash = false;
      for (const Box& b : placed) clash = clash || (x0 < b.x1 && x0 + w > b.x0 && y - 10 < b.y1 && y > b.y0);
      if (!clash) break;
    }
    placed.push_back({x0, y - 10, x0 + w, y});
    s.Text(left ? l.px - 8 : l.px + 8, y, l.text, left ? "end" : "start", 10, "class=\"point-label\"");
  }
}

}  // namespace

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
  std::vector<Label> labels;
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
        Marker(s, si, px, py, data);
      }
      if (!p.label.empty()) labels.push_back({px, py, p.label});
    }
    if (se.line && pts.size() > 1) s.Polyline(pts, Colour(si), 2, "class=\"curve\"");
    s.Close();
  }
  DrawLabels(s, labels);
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
