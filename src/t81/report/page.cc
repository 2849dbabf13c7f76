// Page assembly: BuildPage puts the sections in benchmark order and dates the page from the input
// files (never the clock); RenderHtml and RenderMarkdown write the same content as one
// self-contained, printable HTML page and as Markdown with the figures as SVG files.
#include "t81/report/page.h"

#include <cmath>
#include <cstdio>

#include "t81/report/sections.h"
#include "t81/report/svg.h"

namespace t81::report {

std::string Fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string MetaCaption(const RunMeta& m) {
  auto or_not = [](const std::string& s) { return s.empty() ? std::string("not recorded") : s; };
  return m.source + ": run " + or_not(m.timestamp) + " · git " + or_not(m.git_revision) + " · CPU " +
         or_not(m.cpu_model) + " · ISA " + or_not(m.isa) + " · threads " +
         (m.threads > 0 ? std::to_string(m.threads) : std::string("not recorded"));
}

namespace {

void Newest(const RunMeta& m, std::string* date) {
  if (m.timestamp > *date) *date = m.timestamp;  // ISO 8601 UTC strings order as times
}

const char* kStyle = R"(body { font-family: "DejaVu Sans", Arial, sans-serif; color: #222; max-width: 980px; margin: 1.5em auto; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
figure { margin: 1em 0; page-break-inside: avoid; break-inside: avoid; }
figcaption { font-size: 0.8em; color: #555; }
svg.chart { max-width: 100%; height: auto; border: 1px solid #eee; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.8em 0; page-break-inside: auto; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
th { background: #f0f0f0; }
.problems li { color: #a33; }
@media print { body { max-width: none; margin: 0; } h2 { page-break-before: auto; } }
)";

// Escaped text with `code` spans as <code> (the intros are written for Markdown too).
std::string HtmlText(const std::string& s) {
  std::string o;
  bool code = false;
  size_t from = 0;
  for (size_t at = s.find('`'); at != std::string::npos; at = s.find('`', from)) {
    o += Escape(s.substr(from, at - from)) + (code ? "</code>" : "<code>");
    code = !code;
    from = at + 1;
  }
  o += Escape(s.substr(from));
  return code ? o + "</code>" : o;
}

std::string HtmlTable(const Table& t) {
  std::string h = "<table>\n<caption>" + Escape(t.caption) + "</caption>\n<tr>";
  for (const std::string& c : t.header) h += "<th>" + Escape(c) + "</th>";
  h += "</tr>\n";
  for (const auto& row : t.rows) {
    h += "<tr>";
    for (const std::string& c : row) h += "<td>" + Escape(c) + "</td>";
    h += "</tr>\n";
  }
  return h + "</table>\n";
}

// A Markdown table cell: pipes escaped, line breaks flattened.
std::string MdCell(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return o;
}

std::string MdTable(const Table& t) {
  std::string m = "**" + MdCell(t.caption) + "**\n\n|";
  for (const std::string& c : t.header) m.append(" ").append(MdCell(c)).append(" |");
  m += "\n|";
  for (size_t i = 0; i < t.header.size(); ++i) m += "---|";
  m += "\n";
  for (const auto& row : t.rows) {
    m += "|";
    for (const std::string& c : row) m.append(" ").append(MdCell(c)).append(" |");
    m += "\n";
  }
  return m + "\n";
}

}  // namespace

Page BuildPage(const BenchData& d) {
  using namespace internal;
  Page p;
  p.title = "t81 benchmark report";
  p.sections = {FashionSection(d), CurvesSection(d), LmSection(d), VitSection(d), GgufSection(d), GemmSection(d)};
  p.problems = d.problems;
  for (const FashionRow& r : d.fashion) Newest(r.meta, &p.data_date);
  for (const LossCurve& c : d.curves) Newest(c.meta, &p.data_date);
  for (const LmRun& r : d.lm) Newest(r.meta, &p.data_date);
  for (const VitRun& r : d.vit) Newest(r.meta, &p.data_date);
  for (const GgufRun& r : d.gguf) Newest(r.meta, &p.data_date);
  for (const GemmRun& r : d.gemm) Newest(r.meta, &p.data_date);
  for (const LmFormats& f : d.formats) Newest(f.meta, &p.data_date);
  return p;
}

std::string RenderHtml(const Page& p) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>" + Escape(p.title) +
                  "</title>\n<style>\n" + kStyle + "</style>\n</head>\n<body>\n<h1>" + Escape(p.title) + "</h1>\n";
  h += "<p>Drawn by <code>t81 report</code> from the files the benchmarks wrote; nothing was re-run. Newest run: " +
       Escape(p.data_date.empty() ? std::string("not recorded") : p.data_date) + ".</p>\n";
  h += "<h2 id=\"problems\">Files that could not be read</h2>\n";
  if (p.problems.empty()) {
    h += "<p>None.</p>\n";
  } else {
    h += "<ul class=\"problems\">\n";
    for (const Problem& pr : p.problems) h += "<li><code>" + Escape(pr.file) + "</code>: " + Escape(pr.what) + "</li>\n";
    h += "</ul>\n";
  }
  for (const Section& s : p.sections) {
    h += "<h2>" + Escape(s.title) + "</h2>\n<p>" + HtmlText(s.intro) + "</p>\n";
    for (const Figure& f : s.figures) {
      h += "<figure id=\"fig-" + Escape(f.id) + "\">\n" + f.svg;
      if (!f.caption.empty()) h += "<figcaption>" + Escape(f.caption) + "</figcaption>\n";
      h += "</figure>\n";
    }
    for (const Table& t : s.tables) h += HtmlTable(t);
  }
  return h + "</body>\n</html>\n";
}

std::string RenderMarkdown(const Page& p, const std::string& svg_prefix) {
  std::string m = "# " + p.title + "\n\nDrawn by `t81 report` from the files the benchmarks wrote; nothing was re-run. "
                  "Newest run: " + (p.data_date.empty() ? std::string("not recorded") : p.data_date) + ".\n\n";
  m += "## Files that could not be read\n\n";
  if (p.problems.empty()) m += "None.\n";
  for (const Problem& pr : p.problems) m += "- `" + pr.file + "`: " + pr.what + "\n";
  m += "\n";
  for (const Section& s : p.sections) {
    m += "## " + s.title + "\n\n" + s.intro + "\n\n";
    for (const Figure& f : s.figures) {
      m += "![" + MdCell(f.title) + "](" + svg_prefix + f.id + ".svg)\n\n";
      if (!f.caption.empty()) m += "*" + f.caption + "*\n\n";
    }
    for (const Table& t : s.tables) m += MdTable(t);
  }
  return m;
}

}  // namespace t81::report
