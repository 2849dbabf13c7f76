// T81_CHECK: aborts with file:line and a message when an internal invariant is broken (a bug).
// Input from outside the program never reaches a T81_CHECK: it is validated into a Status.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace t81::base {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const char* msg);
}  // namespace t81::base

#define T81_CHECK(cond, ...)                                                      \
  do {                                                                            \
    if (!(cond)) ::t81::base::CheckFailed(__FILE__, __LINE__, #cond, "" __VA_ARGS__); \
  } while (0)
