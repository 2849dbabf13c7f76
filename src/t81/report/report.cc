#include "t81/report/report.h"

#include <filesystem>

#include "t81/base/file.h"
#include "t81/report/page.h"

namespace t81::report {

Result<ReportFiles> WriteReport(const std::string& in_dir, const std::string& out_html) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(in_dir, ec)) return Error("--in " + in_dir + ": not a folder");
  if (out_html.empty()) return Error("--out: empty path");
  const BenchData d = ReadBenchmarks(in_dir);
  const Page page = BuildPage(d);
  const fs::path out(out_html);
  const std::string stem = out.stem().string();
  const fs::path dir = out.parent_path();
  ReportFiles files;
  files.problems = d.problems;
  auto write = [&](const fs::path& p, const std::string& text) -> Status {
    T81_RETURN_IF_ERROR(base::WriteFileAtomic(p.string(), text));
    files.written.push_back(p.string());
    return OkStatus();
  };
  T81_RETURN_IF_ERROR(write(out, RenderHtml(page)));
  T81_RETURN_IF_ERROR(write(dir / (stem + ".md"), RenderMarkdown(page, stem + "_")));
  for (const Section& s : page.sections)
    for (const Figure& f : s.figures)
      T81_RETURN_IF_ERROR(write(dir / (stem + "_" + f.id + ".svg"),
                                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + f.svg));
  return files;
}

}  // namespace t81::report
