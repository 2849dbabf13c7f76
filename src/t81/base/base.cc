#include <cstdio>
#include <cstdlib>

#include "t81/base/check.h"

namespace t81::base {
void CheckFailed(const char* file, int line, const char* cond, const char* msg) {
  std::fprintf(stderr, "t81: internal error at %s:%d: check failed: %s %s\n", file, line, cond, msg);
  std::abort();
}
}  // namespace t81::base
