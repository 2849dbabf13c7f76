// t81 report: the benchmark files of one folder as one HTML page of SVG charts (plus report.md and
// the SVGs beside it). Files it cannot read are named on stderr, one line each, and in the page;
// the report is still written for the rest.
#include <cstdio>

#include "t81/cli/commands.h"
#include "t81/report/report.h"

namespace t81::cli {
namespace {

struct ReportFlags {
  std::string in = "benchmarks", out = "benchmarks/report.html";
};

Status RunReport(const ReportFlags& f) {
  T81_ASSIGN_OR_RETURN(const report::ReportFiles r, report::WriteReport(f.in, f.out));
  for (const report::Problem& p : r.problems) std::fprintf(stderr, "t81 report: %s: %s\n", p.file.c_str(), p.what.c_str());
  std::printf("wrote %s (and %zu more files beside it: the Markdown summary and the charts as SVG)\n", f.out.c_str(),
              r.written.size() - 1);
  return OkStatus();
}

}  // namespace

void AddReport(CLI::App& app, Runner* run) {
  auto f = std::make_shared<ReportFlags>();
  CLI::App* c = app.add_subcommand("report", "one HTML page of SVG charts from the benchmark files (never re-runs them)");
  c->add_option("--in", f->in, "folder the benchmarks wrote (quantization_runs.csv, *.json, models/*/train_log.csv)")
      ->capture_default_str();
  c->add_option("--out", f->out, "the HTML page; <stem>.md and <stem>_<chart>.svg are written beside it")
      ->capture_default_str();
  c->callback([f, run] { *run = [f] { return RunReport(*f); }; });
}

}  // namespace t81::cli
