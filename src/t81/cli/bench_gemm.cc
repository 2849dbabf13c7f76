// t81 bench gemm: placeholder registration replaced in the kernel issue.
#include "t81/cli/commands.h"

namespace t81::cli {
void AddBenchGemm(CLI::App&, Runner*) {}
}  // namespace t81::cli
