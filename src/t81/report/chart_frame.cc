#include "t81/report/chart_frame.h"

#include <cmath>
#include <cstdio>

namespace t81::report::internal {

void DrawFrame(Svg& s, const std::string& title, const Axis& y) {
  s.Text(kPlotX0, 24, title, "start", 15, "font-weight=\"bold\" class=\"title\"");
  s.Rect(kPlotX0, kPlotY0, kPlotX1 - kPlotX0, kPlotY1 - kPlotY0, "#fafafa",
         "class=\"plot\" stroke=\"#999999\" stroke-width=\"1\"");
  s.Open("class=\"axis y\" data-min=\"" + Num(y.lo) + "\" data-max=\"" + Num(y.hi) + "\" data-log=\"" +
         (y.log ? "1" : "0") + "\"");
  for (double t : y.ticks) {
    const double py = y.Map(t, kPlotY1, kPlotY0);
    s.Line(kPlotX0, py, kPlotX1, py, "#dddddd", 1, "class=\"grid\"");
    s.Line(kPlotX0 - 5, py, kPlotX0, py, "#333333", 1);
    s.Text(kPlotX0 - 8, py + 4, TickLabel(t), "end", 11, "class=\"tick\" data-tick=\"" + Num(t) + "\"");
  }
  const double mid = (kPlotY0 + kPlotY1) / 2;
  s.Text(18, mid, y.label + (y.log ? " (log scale)" : ""), "middle", 12, "class=\"label\"", -90);
  s.Close();
}

void DrawXAxis(Svg& s, const Axis& x) {
  s.Open("class=\"axis x\" data-min=\"" + Num(x.lo) + "\" data-max=\"" + Num(x.hi) + "\" data-log=\"" +
         (x.log ? "1" : "0") + "\"");
  for (double t : x.ticks) {
    const double px = x.Map(t, kPlotX0, kPlotX1);
    s.Line(px, kPlotY0, px, kPlotY1, "#eeeeee", 1, "class=\"grid\"");
    s.Line(px, kPlotY1, px, kPlotY1 + 5, "#333333", 1);
    s.Text(px, kPlotY1 + 18, TickLabel(t), "middle", 11, "class=\"tick\" data-tick=\"" + Num(t) + "\"");
  }
  s.Text((kPlotX0 + kPlotX1) / 2, kHeight - 14, x.label + (x.log ? " (log scale)" : ""), "middle", 12,
         "class=\"label\"");
  s.Close();
}

void DrawLegend(Svg& s, const std::vector<std::string>& names, bool lines) {
  s.Open("class=\"legend\"");
  const double x = kPlotX1 + 14;
  for (size_t i = 0; i < names.size(); ++i) {
    const double y = kPlotY0 + 8 + 20.0 * double(i);
    if (lines) s.Line(x, y, x + 18, y, Colour(i), 3);
    else s.Rect(x, y - 6, 14, 12, Colour(i));
    std::string name = names[i];
    if (name.size() > 26) {  // cut at a UTF-8 character boundary
      size_t k = 25;
      while (k > 0 && (static_cast<unsigned char>(name[k]) & 0xC0) == 0x80) --k;
      name = name.substr(0, k) + "…";
    }
    s.Text(x + 24, y + 4, name, "start", 11, "class=\"legend-item\"");
  }
  s.Close();
}

std::string ValueLabel(double v) {
  if (!std::isfinite(v)) return "n/a";
  const double av = std::fabs(v);
  char buf[32];
  if (av >= 1e6) std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
  else if (av >= 1e4) std::snprintf(buf, sizeof buf, "%.3gk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace t81::report::internal
