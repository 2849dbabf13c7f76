// Child processes for the benchmarks and tests that compare engines or measure commands: run a
// program (posix_spawn: the child does not inherit this process's memory image), capture its
// stdout + stderr, and read its own peak resident set.
#pragma once

#include <string>
#include <vector>

#include "t81/base/status.h"

namespace t81::base {

struct ChildResult {
  int rc = -1;               // exit status (-1: killed by a signal)
  std::string out;           // stdout and stderr, interleaved
  double peak_rss_mib = 0;   // the child's peak RSS (getrusage through wait4)
};
// argv[0] is the program's path (no shell, no PATH search). Error only if it cannot start.
Result<ChildResult> RunChild(const std::vector<std::string>& argv);

}  // namespace t81::base
