#include "t81/cli/common.h"

#include "t81/base/check.h"
#include "t81/base/file.h"
#include "t81/base/timer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace t81::cli {

Status WriteFileAtomic(const std::string& path, const std::string& content) {
  return base::WriteFileAtomic(path, content);
}

Status AppendCsv(const std::string& path, const std::string& header,
                 const std::vector<std::string>& rows) {
  return base::AppendLinesLocked(path, header, rows);
}

RatioStats PairedRatios(const std::vector<double>& num, const std::vector<double>& den) {
  T81_CHECK(!num.empty() && num.size() == den.size());
  std::vector<double> r;
  for (size_t i = 0; i < num.size(); ++i) r.push_back(num[i] / den[i]);
  const auto [lo, hi] = std::minmax_element(r.begin(), r.end());
  return {base::Median(r), *lo, *hi};
}

std::string Timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string HumanBytes(int64_t bytes) {
  char buf[32];
  if (bytes < 10 * 1024) std::snprintf(buf, sizeof(buf), "%lld B", (long long)bytes);
  else if (bytes < 10 * 1024 * 1024) std::snprintf(buf, sizeof(buf), "%.1f KiB", bytes / 1024.0);
  else std::snprintf(buf, sizeof(buf), "%.1f MiB", bytes / (1024.0 * 1024.0));
  return buf;
}

Status WriteStdout(const std::string& s) {
  if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size() || std::fflush(stdout) != 0) return Error("stdout: write failed");
  return OkStatus();
}

std::string HumanDuration(double s) {
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", int(s / 3600), int(std::fmod(s, 3600) / 60));
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s / 60), int(std::fmod(s, 60)));
  else std::snprintf(buf, sizeof buf, "%.0fs", s);
  return buf;
}

Status TruncateCsvAfter(const std::string& path, int64_t step, int column) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return OkStatus();
  T81_ASSIGN_OR_RETURN(const std::string text, base::ReadFile(path));
  std::istringstream in(text);
  std::string line, out;
  for (bool first = true; std::getline(in, line); first = false) {
    size_t at = 0;
    for (int c = 0; c < column && at != std::string::npos; ++c) {
      at = line.find(',', at);
      if (at != std::string::npos) ++at;
    }
    if (first || (!line.empty() && at != std::string::npos && std::atoll(line.c_str() + at) <= step)) out += line + "\n";
  }
  return base::WriteFileAtomic(path, out);
}

Result<nlohmann::json> RunJsonCommand(const std::string& cmd, const std::string& what,
                                      const std::vector<std::string>& numbers) {
  std::fprintf(stderr, "running: %s\n", cmd.c_str());
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return Error("cannot run " + what);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  bool ok = rc == 0 && j.is_object();
  for (const std::string& k : numbers) ok = ok && j.contains(k) && j[k].is_number();
  if (!ok) return Error(what + " failed or printed no result");
  return j;
}

}  // namespace t81::cli
