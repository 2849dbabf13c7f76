// What the CPU and the OS support, read once (CPUID + XGETBV).
#pragma once

namespace t81::base {

struct CpuFeatures {
  bool avx2 = false;      // AVX2 + FMA + F16C, with YMM state enabled by the OS
  bool avx512 = false;    // AVX-512 F/BW/VL/DQ, with ZMM state enabled by the OS
  bool avx512vnni = false;
  bool amx_bf16 = false;  // AMX-TILE + AMX-BF16 + AVX512-BF16, tile state enabled by the OS (XCR0)
  bool amx_int8 = false;  // AMX-TILE + AMX-INT8, tile state enabled by the OS (XCR0)
};

const CpuFeatures& Cpu();

}  // namespace t81::base
