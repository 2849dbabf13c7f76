// GGUF Q8_0 blocks (ggml type 8), byte-exact with ggml's quantize_row_q8_0_ref: 32 values a
// block, fp16 d = absmax / 127, q = round-half-away(x / d) as int8. 34 bytes per block. Used for
// embeddings and heads kept in 8 bits (t81 convert --float-type q8_0, t81 gguf --embd-type q8_0).
#pragma once

#include <cstdint>

namespace t81::quant {

inline constexpr int kQ8Block = 32;

struct BlockQ8_0 {
  uint16_t d;  // fp16
  int8_t qs[kQ8Block];
};
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block is 34 bytes");
inline constexpr int kQ8BlockBytes = sizeof(BlockQ8_0);

// x: n values (n a multiple of 32); out: n / 32 blocks (34 bytes each; any byte alignment).
void QuantizeQ8_0(const float* x, int64_t n, uint8_t* out);
void DequantizeQ8_0(const uint8_t* in, int64_t n, float* out);

}  // namespace t81::quant
