// Atomic file output: write path.tmp, then rename over path (no partial output on failure).
#pragma once

#include <string>

#include "t81/base/status.h"

namespace t81::base {
// Creates missing parent folders.
Status WriteFileAtomic(const std::string& path, const std::string& content);
// Whole file into memory.
Result<std::string> ReadFile(const std::string& path);
}  // namespace t81::base
