// Internal to kernels/: the per-ISA kernel tables. Each ISA's file (ref/, avx2/, avx512/, compiled
// with its own flags) defines its table; only dispatch.cc picks among them (kernels.h: ForIsa).
#pragma once

#include "t81/kernels/kernels.h"

// For the per-ISA kernel files: fully unroll a loop over a register tile, so that GCC keeps the
// accumulator arrays in registers (scalar replacement needs constant indices; GCC's own unrolling
// heuristics are not reliable there).
#define T81_UNROLL _Pragma("GCC unroll 16")

namespace t81::kernels {
namespace ref {
extern const KernelTable kTable;  // the scalar reference: the oracle of every test
}
namespace avx2 {
extern const KernelTable kTable;
}
namespace avx512 {
extern const KernelTable kTable;
}
}  // namespace t81::kernels
