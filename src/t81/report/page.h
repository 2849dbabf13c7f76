// The report as a document: sections of figures (SVG) and tables, the files that could not be
// read, and a date taken from the input files. Rendered two ways from the same content: one
// self-contained HTML page (inline SVG, no scripts) and a Markdown summary whose figures are SVG
// files beside it.
#pragma once

#include <string>
#include <vector>

#include "t81/report/data.h"

namespace t81::report {

struct Table {
  std::string caption;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};
struct Figure {
  std::string id;       // file-name safe: the Markdown's SVG is <stem>_<id>.svg
  std::string title, svg;
  std::string caption;  // where the data came from (file, run, revision, CPU, ISA, threads)
};
struct Section {
  std::string title, intro;
  std::vector<Figure> figures;
  std::vector<Table> tables;
};
struct Page {
  std::string title, data_date;  // data_date: the newest run timestamp found in the inputs
  std::vector<Section> sections;
  std::vector<Problem> problems;
};

// Charts and tables from the data read (sections_*.cc).
Page BuildPage(const BenchData& d);
std::string RenderHtml(const Page& p);
// svg_prefix: what each figure's file name starts with (e.g. "report_" for report_gemm.svg).
std::string RenderMarkdown(const Page& p, const std::string& svg_prefix);

// Helpers shared by the section builders.
std::string Fixed(double v, int decimals);  // "n/a" for NAN
std::string MetaCaption(const RunMeta& m);  // "benchmarks/gemm.json: run 2026-… · git … · CPU … · ISA … · 2 threads"

}  // namespace t81::report
