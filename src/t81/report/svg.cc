#include "t81/report/svg.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "t81/base/check.h"

namespace t81::report {

std::string Escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default:
        // Control characters are not allowed in XML 1.0 text; a file from outside may hold them.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') o += ' ';
        else o += c;
    }
  }
  return o;
}

std::string Px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  if (s == "-0.00") s = "0.00";
  return s;
}

std::string Num(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {  // whole numbers in full: 31400, not 3.14e+04
    std::snprintf(buf, sizeof buf, "%.0f", v == 0 ? 0.0 : v);
    return buf;
  }
  for (int p = 1; p <= 10; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    char lo[40];
    std::snprintf(lo, sizeof lo, "%.10g", v);
    if (std::strtod(buf, nullptr) == std::strtod(lo, nullptr)) return buf;
  }
  return buf;
}

const char* Colour(size_t i) {
  static const char* const kOkabeIto[] = {"#0072B2", "#D55E00", "#009E73", "#E69F00",
                                          "#CC79A7", "#56B4E9", "#F0E442", "#000000"};
  return kOkabeIto[i % 8];
}

Svg::Svg(double width, double height, const std::string& id, const std::string& title) : w_(width), h_(height) {
  head_ = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"" + Escape(id) + "\" width=\"" + Px(width) +
          "\" height=\"" + Px(height) + "\" viewBox=\"0 0 " + Px(width) + " " + Px(height) +
          "\" font-family=\"DejaVu Sans, Arial, sans-serif\" role=\"img\" aria-label=\"" + Escape(title) + "\">\n<title>" +
          Escape(title) + "</title>\n";
  Rect(0, 0, width, height, "#ffffff", "class=\"background\"");
}

void Svg::Rect(double x, double y, double w, double h, const std::string& fill, const std::string& attrs) {
  body_ += "<rect x=\"" + Px(x) + "\" y=\"" + Px(y) + "\" width=\"" + Px(w) + "\" height=\"" + Px(h) + "\" fill=\"" +
           fill + "\"" + (attrs.empty() ? "" : " " + attrs) + "/>\n";
}

void Svg::Line(double x1, double y1, double x2, double y2, const std::string& stroke, double width,
               const std::string& attrs) {
  body_ += "<line x1=\"" + Px(x1) + "\" y1=\"" + Px(y1) + "\" x2=\"" + Px(x2) + "\" y2=\"" + Px(y2) + "\" stroke=\"" +
           stroke + "\" stroke-width=\"" + Px(width) + "\"" + (attrs.empty() ? "" : " " + attrs) + "/>\n";
}

void Svg::Text(double x, double y, const std::string& text, const char* anchor, double size, const std::string& attrs,
               double rotate) {
  body_ += "<text x=\"" + Px(x) + "\" y=\"" + Px(y) + "\" font-size=\"" + Px(size) + "\" text-anchor=\"" + anchor + "\"";
  if (rotate != 0) body_ += " transform=\"rotate(" + Px(rotate) + " " + Px(x) + " " + Px(y) + ")\"";
  body_ += (attrs.empty() ? "" : " " + attrs) + ">" + Escape(text) + "</text>\n";
}

void Svg::Circle(double cx, double cy, double r, const std::string& fill, const std::string& attrs) {
  body_ += "<circle cx=\"" + Px(cx) + "\" cy=\"" + Px(cy) + "\" r=\"" + Px(r) + "\" fill=\"" + fill + "\"" +
           (attrs.empty() ? "" : " " + attrs) + "/>\n";
}

void Svg::Polyline(const std::vector<std::pair<double, double>>& pts, const std::string& stroke, double width,
                   const std::string& attrs) {
  std::string p;
  for (const auto& [x, y] : pts) {
    if (!p.empty()) p += ' ';
    p.append(Px(x)).append(",").append(Px(y));
  }
  body_ += "<polyline points=\"" + p + "\" fill=\"none\" stroke=\"" + stroke + "\" stroke-width=\"" + Px(width) + "\"" +
           (attrs.empty() ? "" : " " + attrs) + "/>\n";
}

void Svg::Open(const std::string& attrs) {
  body_ += "<g" + (attrs.empty() ? "" : " " + attrs) + ">\n";
  ++open_;
}

void Svg::Close() {
  T81_CHECK(open_ > 0, "Svg::Close without Open");
  body_ += "</g>\n";
  --open_;
}

std::string Svg::Finish() const {
  T81_CHECK(open_ == 0, "Svg::Finish with an open group");
  return head_ + body_ + "</svg>\n";
}

}  // namespace t81::report
