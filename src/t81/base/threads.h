// One thread count for the whole process: OpenMP regions of t81 and OpenBLAS both follow it,
// so every comparison runs both sides with the same number of threads.
#pragma once

namespace t81::base {
void SetNumThreads(int n);  // n >= 1
int NumThreads();
}  // namespace t81::base
