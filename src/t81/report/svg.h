// SVG markup written by t81 itself: escaping, deterministic number formatting, the colour-blind
// safe palette (Okabe-Ito) and a small element writer. Nothing here knows about benchmarks.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace t81::report {

// XML text and attribute escaping (&, <, >, ", ').
std::string Escape(const std::string& s);
// A coordinate: fixed 2 decimals, no "-0.00" (same input, same bytes).
std::string Px(double v);
// A data value: whole numbers in full, others the shortest "%.*g" (up to 10 significant digits)
// that reads back as the same double at that precision; "nan" / "inf" spelled out.
std::string Num(double v);

// Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
// 0 blue, 1 vermillion, 2 bluish green, 3 orange, 4 reddish purple, 5 sky blue, 6 yellow, 7 black.
const char* Colour(size_t i);

// Builds one <svg> element. Attributes are passed pre-formatted (use Escape for text values).
class Svg {
 public:
  Svg(double width, double height, const std::string& id, const std::string& title);
  double width() const { return w_; }
  double height() const { return h_; }

  void Rect(double x, double y, double w, double h, const std::string& fill, const std::string& attrs = "");
  void Line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1,
            const std::string& attrs = "");
  // anchor: start | middle | end; rotate: degrees about (x, y).
  void Text(double x, double y, const std::string& text, const char* anchor = "start", double size = 12,
            const std::string& attrs = "", double rotate = 0);
  void Circle(double cx, double cy, double r, const std::string& fill, const std::string& attrs = "");
  void Polyline(const std::vector<std::pair<double, double>>& pts, const std::string& stroke, double width,
                const std::string& attrs = "");
  void Open(const std::string& attrs);  // <g attrs>
  void Close();                         // </g>
  std::string Finish() const;           // the whole element, one line per child

 private:
  double w_, h_;
  std::string head_, body_;
  int open_ = 0;
};

}  // namespace t81::report
