// t81 report: the benchmark files under one folder turned into one self-contained HTML page of
// SVG charts, a Markdown summary with the same tables, and the charts as SVG files beside it.
#pragma once

#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/report/data.h"

namespace t81::report {

struct ReportFiles {
  std::vector<Problem> problems;     // files missing, empty or malformed (the report names them too)
  std::vector<std::string> written;  // the page first, then the Markdown, then the SVGs
};

// Reads in_dir, writes out_html, <stem>.md and <stem>_<chart>.svg beside it (each through a temp
// file and a rename). Same inputs, same bytes. An error only when in_dir is not a folder or a
// file cannot be written.
Result<ReportFiles> WriteReport(const std::string& in_dir, const std::string& out_html);

}  // namespace t81::report
