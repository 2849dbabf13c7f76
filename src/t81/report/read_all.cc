// ReadBenchmarks: finds the files scripts/bench.sh writes under the input folder and hands each
// to its reader. Files bench.sh always writes are expected (missing = a Problem); the ViT
// benchmark and the GGUF format table are optional (their charts say "no data").
#include <algorithm>
#include <filesystem>

#include "t81/report/readers.h"

namespace t81::report {

namespace fs = std::filesystem;

namespace {

// Regular files in dir whose names start with prefix and end with suffix, sorted.
std::vector<std::string> Glob(const std::string& dir, const std::string& prefix, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() >= prefix.size() + suffix.size() && name.rfind(prefix, 0) == 0 &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 && it->is_regular_file(ec))
      out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Runs reader on path; an empty file or a reader's error becomes one Problem.
template <typename Reader>
void Visit(const std::string& path, BenchData* d, Reader reader) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec) && fs::file_size(path, ec) == 0 && !ec) {
    d->problems.push_back({path, "empty file"});
    return;
  }
  const Status st = reader(path, d);
  if (st.ok()) return;
  // The readers' messages start with the path; keep "file" and "what" apart.
  std::string what = st.message();
  if (what.rfind(path + ": ", 0) == 0) what = what.substr(path.size() + 2);
  else if (what.rfind(path + " ", 0) == 0) what = what.substr(path.size() + 1);
  d->problems.push_back({path, what});
}

}  // namespace

BenchData ReadBenchmarks(const std::string& dir) {
  using namespace internal;
  BenchData d;
  const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  std::error_code ec;
  const std::string fashion = base + "quantization_runs.csv";
  if (fs::exists(fashion, ec)) Visit(fashion, &d, ReadFashionCsv);
  else d.problems.push_back({fashion, "missing (t81 bench fashion-mnist writes it)"});

  std::vector<std::string> logs;
  for (fs::directory_iterator it(base + "models", ec), end; !ec && it != end; it.increment(ec))
    if (fs::is_regular_file(it->path() / "train_log.csv")) logs.push_back((it->path() / "train_log.csv").string());
  std::sort(logs.begin(), logs.end());
  if (logs.empty()) d.problems.push_back({base + "models/*/train_log.csv", "missing (t81 train lm writes it)"});
  for (const std::string& p : logs)
    Visit(p, &d, [](const std::string& path, BenchData* out) {
      return ReadTrainLog(path, fs::path(path).parent_path().filename().string(), out);
    });

  const std::vector<std::string> lm = Glob(base, "lm_", ".json");
  if (lm.empty()) d.problems.push_back({base + "lm_*.json", "missing (t81 bench lm --json-output writes it)"});
  for (const std::string& p : lm) Visit(p, &d, ReadLmJson);
  if (fs::exists(base + "lm_formats.md", ec)) Visit(base + "lm_formats.md", &d, ReadLmFormatsMd);

  for (const std::string& p : Glob(base, "vit_", ".json")) Visit(p, &d, ReadVitJson);

  const std::vector<std::string> gguf = Glob(base, "gguf_", ".json");
  if (gguf.empty()) d.problems.push_back({base + "gguf_*.json", "missing (t81 bench gguf --json-output writes it)"});
  for (const std::string& p : gguf) Visit(p, &d, ReadGgufJson);

  const std::string gemm = base + "gemm.json";
  if (fs::exists(gemm, ec)) Visit(gemm, &d, ReadGemmJson);
  else d.problems.push_back({gemm, "missing (t81 bench gemm --json-output writes it)"});
  return d;
}

}  // namespace t81::report
