// The one ternary quantizer of t81, used by PTQ, the QAT forward pass, export and the kernels.
//
// For each scale group g of W:  Δ = threshold · mean|w| over g;
//   trit = sign(w) if |w| > Δ else 0;   α = mean |w| over the kept weights (0 if none kept);
//   dequantized w' = α · trit.
// α is rounded to the nearest fp16 value, so the packed TQ formats (fp16 block scale) hold it
// exactly: fake-quant (QAT), packed inference and GGUF export agree bit for bit.
// Groups: the whole tensor, one row, or one 256-element block of a row (the TQ block; a row's
// last block may be shorter: its statistics cover only the real elements, never padding).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "t81/base/status.h"

namespace t81::quant {

inline constexpr int kBlock = 256;  // QK_K: elements per TQ block
inline constexpr float kDefaultThreshold = 0.45f;

enum class Granularity : uint8_t { kTensor, kRow, kBlock };

Result<Granularity> ParseGranularity(std::string_view s);
const char* GranularityName(Granularity g);

inline int64_t BlocksPerRow(int64_t cols) { return (cols + kBlock - 1) / kBlock; }

// Scales per (row, 256-block) after quantization: rows x BlocksPerRow(cols), row-major.
// Tensor and row granularity repeat their scale across the blocks they cover.
//
// w: (rows, cols) row-major. trits: (rows, cols) out. block_scales: (rows, BlocksPerRow(cols)) out.
// threshold must be > 0 (checked by the caller; a T81_CHECK here).
void Ternarize(const float* w, int64_t rows, int64_t cols, Granularity g, float threshold,
               int8_t* trits, float* block_scales);

// out = α · trit for every element (the QAT forward weight). out may alias w.
void FakeQuantize(const float* w, int64_t rows, int64_t cols, Granularity g, float threshold,
                  float* out);

}  // namespace t81::quant
