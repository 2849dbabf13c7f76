// Runs the t81 binary (or any command) for the end-to-end CLI tests: exit code and stdout+stderr.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace t81::testing {

struct ExecResult {
  int rc;
  std::string out;
};

inline ExecResult ExecCommand(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace t81::testing

#include <vector>

#include "t81/base/process.h"

namespace t81::testing {

using MeasuredResult = base::ChildResult;

// Runs argv[0] with argv directly (no shell, so the measured process is the program itself).
inline MeasuredResult ExecMeasured(const std::vector<std::string>& argv) {
  auto r = base::RunChild(argv);
  if (!r.ok()) return {-1, r.status().message(), 0};
  return std::move(r).value();
}

}  // namespace t81::testing
