#include "t81/report/csv.h"

#include <cmath>
#include <cstdlib>

namespace t81::report {

int CsvTable::Col(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return int(i);
  return -1;
}

const std::string& CsvTable::Field(size_t r, int c) const {
  static const std::string kEmpty;
  if (c < 0 || size_t(c) >= rows[r].size()) return kEmpty;
  return rows[r][size_t(c)];
}

Result<CsvTable> ParseCsv(const std::string& text, const std::string& path) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return Error(path + ": empty file");
  CsvTable t;
  std::vector<std::string> rec;
  std::string field;
  bool quoted = false, any = false;
  int line = 1, rec_line = 1;
  auto end_record = [&] {
    rec.push_back(field);
    field.clear();
    const bool blank = rec.size() == 1 && rec[0].empty();
    if (!blank) {
      if (t.header.empty()) t.header = rec;
      else t.rows.push_back(rec), t.line.push_back(rec_line);
    }
    rec.clear();
    any = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else field += c, line += c == '\n';
      continue;
    }
    if (!any) rec_line = line;
    any = true;
    if (c == '"' && field.empty()) quoted = true;
    else if (c == ',') rec.push_back(field), field.clear();
    else if (c == '\n') end_record(), ++line;
    else if (c != '\r') field += c;
  }
  if (quoted) return Error(path + ": line " + std::to_string(rec_line) + ": unterminated quoted field");
  if (any) end_record();
  if (t.header.empty()) return Error(path + ": no header line");
  return t;
}

bool ParseNumber(const std::string& s, double* v) {
  if (s.empty() || s == "n/a" || s == "nan" || s == "null") {
    *v = NAN;
    return true;
  }
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !std::isfinite(x)) return false;
  *v = x;
  return true;
}

}  // namespace t81::report
