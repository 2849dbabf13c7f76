#include "t81/base/memory.h"

#include <sys/sysinfo.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace t81::base {

int64_t AvailableMemoryBytes() {
  if (const char* env = std::getenv("T81_MEMORY_LIMIT_MIB"); env && *env) {
    char* end = nullptr;
    const long long mib = std::strtoll(env, &end, 10);
    if (end && *end == '\0' && mib >= 0) return int64_t(mib) << 20;
  }
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    long long kb = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %lld kB", &kb) == 1) return int64_t(kb) << 10;
  }
  struct sysinfo si {};
  if (sysinfo(&si) == 0) return int64_t(si.totalram) * int64_t(si.mem_unit);
  return INT64_MAX;
}

Status CheckFits(int64_t bytes, const std::string& what) {
  const int64_t avail = AvailableMemoryBytes();
  if (bytes <= avail) return OkStatus();
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%s needs %.2f GiB of memory and %.2f GiB are available", what.c_str(),
                double(bytes) / double(int64_t(1) << 30), double(avail) / double(int64_t(1) << 30));
  return Error(buf);
}

}  // namespace t81::base
