// Readers of the text tables the benchmarks write: benchmark 1's appended CSV, train lm's
// train_log.csv and the Markdown table of scripts/bench-lm-formats.sh.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "t81/base/file.h"
#include "t81/report/csv.h"
#include "t81/report/readers.h"

namespace t81::report::internal {

namespace {

Result<CsvTable> LoadCsv(const std::string& path) {
  T81_ASSIGN_OR_RETURN(const std::string text, base::ReadFile(path));
  return ParseCsv(text, path);
}

// Number column c of row r; false (and a Problem naming file, line and column) when malformed.
bool Field(const CsvTable& t, size_t r, int c, const std::string& path, double* v, BenchData* d) {
  if (ParseNumber(t.Field(r, c), v)) return true;
  d->problems.push_back({path, "line " + std::to_string(t.line[r]) + ": " + t.header[size_t(c)] + " '" +
                                   t.Field(r, c) + "' is not a number; row skipped"});
  return false;
}

}  // namespace

Status ReadFashionCsv(const std::string& path, BenchData* d) {
  T81_ASSIGN_OR_RETURN(const CsvTable t, LoadCsv(path));
  const int mode = t.Col("mode"), acc = t.Col("accuracy"), bytes = t.Col("bytes");
  if (mode < 0 || acc < 0 || bytes < 0) return Error(path + ": no mode, accuracy and bytes columns in its header");
  if (t.rows.empty()) return Error(path + ": a header and no rows");
  const int loss = t.Col("loss"), lat = t.Col("latency_s"), model = t.Col("model"), ts = t.Col("timestamp"),
            rev = t.Col("git_revision"), cpu = t.Col("cpu_model"), isa = t.Col("isa"), thr = t.Col("threads");
  for (size_t r = 0; r < t.rows.size(); ++r) {
    FashionRow row;
    row.mode = t.Field(r, mode);
    row.model = model >= 0 && !t.Field(r, model).empty() ? t.Field(r, model) : "linear";
    if (row.mode.empty()) {
      d->problems.push_back({path, "line " + std::to_string(t.line[r]) + ": no mode; row skipped"});
      continue;
    }
    double threads = NAN;
    if (!Field(t, r, acc, path, &row.accuracy, d) || !Field(t, r, bytes, path, &row.bytes, d)) continue;
    if (loss >= 0 && !Field(t, r, loss, path, &row.loss, d)) continue;
    if (lat >= 0 && !Field(t, r, lat, path, &row.latency_s, d)) continue;
    if (thr >= 0 && !Field(t, r, thr, path, &threads, d)) continue;
    row.meta = {path, t.Field(r, ts), t.Field(r, rev), t.Field(r, cpu), t.Field(r, isa),
                std::isfinite(threads) ? int(threads) : 0};
    d->fashion.push_back(row);
  }
  return OkStatus();
}

Status ReadTrainLog(const std::string& path, const std::string& name, BenchData* d) {
  T81_ASSIGN_OR_RETURN(const CsvTable t, LoadCsv(path));
  // val_loss: t81 train lm; test_loss: t81 train vit (its held-out split is the test set).
  const int step = t.Col("step"), train = t.Col("train_loss"), val = t.Col("val_loss") >= 0 ? t.Col("val_loss") : t.Col("test_loss");
  if (step < 0 || train < 0) return Error(path + ": no step and train_loss columns in its header");
  if (t.rows.empty()) return Error(path + ": a header and no rows");
  LossCurve c;
  c.name = name;
  c.meta.source = path;
  // train lm records its run beside the log (older folders lack the file).
  const std::string run = (std::filesystem::path(path).parent_path() / "train_run.json").string();
  std::error_code ec;
  if (std::filesystem::exists(run, ec)) {
    Result<RunMeta> m = ReadRunMeta(run);
    if (m.ok()) c.meta = *m, c.meta.source = path;
    else d->problems.push_back({run, m.status().message().substr(std::min(m.status().message().size(), run.size() + 2))});
  }
  for (size_t r = 0; r < t.rows.size(); ++r) {
    double s, tl, vl = NAN;
    if (!Field(t, r, step, path, &s, d) || !Field(t, r, train, path, &tl, d)) continue;
    if (val >= 0 && !Field(t, r, val, path, &vl, d)) continue;
    c.step.push_back(s);
    c.train_loss.push_back(tl);
    c.val_loss.push_back(vl);
  }
  d->curves.push_back(c);
  return OkStatus();
}

Status ReadLmFormatsMd(const std::string& path, BenchData* d) {
  T81_ASSIGN_OR_RETURN(const std::string text, base::ReadFile(path));
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return Error(path + ": empty file");
  LmFormats f;
  f.meta.source = path;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("(", 0) == 0) {
      f.note = line;
      // "(... ; THREADS threads; DATE; REVISION)"
      const size_t b = line.rfind("; "), a = b == std::string::npos ? b : line.rfind("; ", b - 1);
      if (a != std::string::npos) {
        f.meta.timestamp = line.substr(a + 2, b - a - 2);
        f.meta.git_revision = line.substr(b + 2, line.size() - b - 3);
      }
      continue;
    }
    if (line.rfind("| ", 0) != 0 || line.rfind("| file ", 0) == 0) continue;
    std::vector<std::string> cells;
    std::istringstream cs(line.substr(1));
    std::string cell;
    while (std::getline(cs, cell, '|')) {
      const size_t x = cell.find_first_not_of(' '), y = cell.find_last_not_of(' ');
      cells.push_back(x == std::string::npos ? "" : cell.substr(x, y - x + 1));
    }
    FormatRow r;
    if (cells.size() < 5 || !ParseNumber(cells[2], &r.mib) || !ParseNumber(cells[3], &r.llama_ppl) ||
        !ParseNumber(cells[4], &r.t81_ppl)) {
      d->problems.push_back({path, "line " + std::to_string(n) + ": not a row of | file | what | MiB | PPL | PPL |; skipped"});
      continue;
    }
    r.file = cells[0];
    r.what = cells[1];
    f.rows.push_back(r);
  }
  if (f.rows.empty()) return Error(path + ": no table rows");
  d->formats.push_back(f);
  return OkStatus();
}

}  // namespace t81::report::internal
