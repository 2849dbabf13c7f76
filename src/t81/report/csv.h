// CSV as the benchmarks write it (RFC 4180: a header line, comma-separated fields, quoted when
// they hold a comma, quote or line break), parsed without throwing.
#pragma once

#include <string>
#include <vector>

#include "t81/base/status.h"

namespace t81::report {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // a row may have fewer fields than the header
  std::vector<int> line;                       // each row's line number in the file (1 = header)
  int Col(const std::string& name) const;      // -1 when absent
  // Row r's field in column c ("" when c < 0 or the row is short).
  const std::string& Field(size_t r, int c) const;
};

// path names the file in errors. An empty text, or one with no header, is an error.
Result<CsvTable> ParseCsv(const std::string& text, const std::string& path);

// A number field: the whole text must be a finite number. "" (or "n/a", "nan") gives NAN and ok.
bool ParseNumber(const std::string& s, double* v);

}  // namespace t81::report
