// GGUF ternary block formats TQ1_0 and TQ2_0, byte-exact with ggml (ggml-common.h).
//
// A block holds 256 consecutive weights of a row (QK_K) and an fp16 scale d; weight = d · t,
// t ∈ {-1, 0, +1} stored as u = t + 1 ∈ {0, 1, 2}.
//
// TQ2_0, 66 bytes:  uint8 qs[64]; fp16 d.
//   element e = 128·c + 32·n + m  (c ∈ 0..1, n ∈ 0..3, m ∈ 0..31)  ->  bits [2n, 2n+1] of qs[32·c + m]
// TQ1_0, 54 bytes:  uint8 qs[48]; uint8 qh[4]; fp16 d.   Base 3, first element most significant;
//   a byte stores ceil(v · 256 / 243) for the base-3 number v; digit k reads ((uint8)(b·3^k)·3) >> 8.
//   qs[m],      m ∈ 0..31: elements m + 32·n,        n = 0..4   (e = 0..159)
//   qs[32 + m], m ∈ 0..15: elements 160 + m + 16·n,  n = 0..4   (e = 160..239)
//   qh[j],      j ∈ 0..3:  elements 240 + j + 4·n,   n = 0..3, then v·3 (fifth digit 0)
// Rows whose length is not a multiple of 256 are padded with zero trits; padding is stored and
// counted in every reported byte figure.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "t81/base/status.h"
#include "t81/quant/ternary.h"

namespace t81::quant {

struct BlockTq1_0 {
  uint8_t qs[48];
  uint8_t qh[4];
  uint16_t d;
};
static_assert(sizeof(BlockTq1_0) == 54, "TQ1_0 block is 54 bytes");

struct BlockTq2_0 {
  uint8_t qs[64];
  uint16_t d;
};
static_assert(sizeof(BlockTq2_0) == 66, "TQ2_0 block is 66 bytes");

enum class TqFormat : uint8_t { kTq1_0, kTq2_0 };
Result<TqFormat> ParseTqFormat(std::string_view s);
const char* TqFormatName(TqFormat f);
inline int64_t TqBlockBytes(TqFormat f) {
  return f == TqFormat::kTq1_0 ? int64_t(sizeof(BlockTq1_0)) : int64_t(sizeof(BlockTq2_0));
}

// How a float matrix becomes ternary: the quantizer's threshold and scale groups, and the TQ
// format that stores it. One set of options for PTQ, QAT, convert and export.
struct TernaryOptions {
  float threshold = kDefaultThreshold;
  Granularity granularity = Granularity::kRow;
  TqFormat format = TqFormat::kTq2_0;
};
// threshold must be positive and finite; the error names the flag (--threshold).
Status CheckTernaryOptions(const TernaryOptions& opt);

// One block: t[256] trits and the scale d (rounded to fp16).
void PackBlockTq1_0(const int8_t* t, float d, BlockTq1_0* out);
void PackBlockTq2_0(const int8_t* t, float d, BlockTq2_0* out);
void UnpackBlockTq1_0(const BlockTq1_0& b, int8_t* t);  // t[256]
void UnpackBlockTq2_0(const BlockTq2_0& b, int8_t* t);
float BlockScale(const BlockTq1_0& b);
float BlockScale(const BlockTq2_0& b);

// A ternary matrix W (rows x cols) in one of the TQ formats: the storage (and file) form.
struct TernaryMatrix {
  TqFormat format = TqFormat::kTq2_0;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> data;  // rows · BlocksPerRow(cols) blocks, row-major

  int64_t blocks_per_row() const { return BlocksPerRow(cols); }
  int64_t bytes() const { return int64_t(data.size()); }
  const uint8_t* block(int64_t r, int64_t b) const {
    return data.data() + (r * blocks_per_row() + b) * TqBlockBytes(format);
  }
};

// trits: (rows, cols); block_scales: (rows, BlocksPerRow(cols)) as from Ternarize.
TernaryMatrix PackTernary(const int8_t* trits, const float* block_scales, int64_t rows,
                          int64_t cols, TqFormat format);
// Ternarize + pack in one step.
TernaryMatrix QuantizeMatrix(const float* w, int64_t rows, int64_t cols, Granularity g,
                             float threshold, TqFormat format);
inline TernaryMatrix QuantizeMatrix(const float* w, int64_t rows, int64_t cols, const TernaryOptions& o) {
  return QuantizeMatrix(w, rows, cols, o.granularity, o.threshold, o.format);
}
// Inverse of PackTernary: trits (rows, cols) and block_scales (rows, kb); padding is dropped.
void UnpackTernary(const TernaryMatrix& m, int8_t* trits, float* block_scales);
// W' = d · t as float (rows, cols).
void Dequantize(const TernaryMatrix& m, float* out);

}  // namespace t81::quant
