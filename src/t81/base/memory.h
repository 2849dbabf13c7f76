// How much memory this machine can give a process now, for the "can this model fit?" checks that
// commands holding a whole model make before they allocate.
#pragma once

#include <cstdint>
#include <string>

#include "t81/base/status.h"

namespace t81::base {

// MemAvailable of /proc/meminfo (else physical memory), or T81_MEMORY_LIMIT_MIB when set (tests
// and users can lower the limit).
int64_t AvailableMemoryBytes();
// OK if `bytes` fit into AvailableMemoryBytes(); else a one-line error "WHAT needs X GiB ... Y GiB
// available".
Status CheckFits(int64_t bytes, const std::string& what);

}  // namespace t81::base
