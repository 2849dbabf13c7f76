// The ggml tensor types: on-disk ids (ggml.h), never implicit numbering, with their block sizes.
// One list for the whole project: the GGUF reader and writer, the exporter and the loaders use
// these ids; the ones t81 encodes itself (F32, F16, Q8_0, TQ1_0, TQ2_0) take their block sizes
// from the static_asserted block structs.
#pragma once

#include <cstdint>

namespace t81::quant {

inline constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ8_0 = 8, kGgmlTq1_0 = 34, kGgmlTq2_0 = 35;

struct GgmlTypeInfo {
  uint32_t id;
  const char* name;
  int64_t block;  // elements per block
  int64_t size;   // bytes per block
};
// Every type a GGUF file may name (so foreign files can be listed and sized); null if unknown.
const GgmlTypeInfo* GgmlTypeOf(uint32_t id);

}  // namespace t81::quant
