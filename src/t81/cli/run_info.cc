#include "t81/cli/run_info.h"

#include <fstream>

#include "t81/kernels/kernels.h"

#ifndef T81_GIT_REVISION
#define T81_GIT_REVISION "unknown"
#endif

extern "C" char* openblas_get_config(void);  // OpenBLAS's build string (version, threading, core)

namespace t81::cli {

std::string BlasConfig() {
  const char* c = openblas_get_config();
  return c ? c : "unknown";
}

std::string GitRevision() { return T81_GIT_REVISION; }

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    const size_t b = line.find_first_not_of(" \t", colon + 1);
    return b == std::string::npos ? "unknown" : line.substr(b);
  }
  return "unknown";
}

std::string ActiveIsa() { return kernels::IsaName(kernels::Active().isa); }

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace t81::cli
