#include "t81/quant/tq.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "t81/base/check.h"
#include "t81/base/fp16.h"

namespace t81::quant {

Result<TqFormat> ParseTqFormat(std::string_view s) {
  if (s == "tq1_0" || s == "TQ1_0") return TqFormat::kTq1_0;
  if (s == "tq2_0" || s == "TQ2_0") return TqFormat::kTq2_0;
  return Error("unknown format '" + std::string(s) + "' (expected tq1_0 or tq2_0)");
}

const char* TqFormatName(TqFormat f) { return f == TqFormat::kTq1_0 ? "tq1_0" : "tq2_0"; }

Status CheckTernaryOptions(const TernaryOptions& opt) {
  if (!(opt.threshold > 0) || !std::isfinite(opt.threshold))
    return Error("--threshold must be positive and finite (got " + std::to_string(opt.threshold) + ")");
  return OkStatus();
}

namespace {
// Base-3 number of u = t + 1 digits, first digit most significant, stored as ceil(v·256/243).
uint8_t EncodeBase3(const int8_t* t, int n, int stride, int pad_digits) {
  int v = 0;
  for (int i = 0; i < n; ++i) v = v * 3 + (t[i * stride] + 1);
  for (int i = 0; i < pad_digits; ++i) v *= 3;
  return uint8_t((v * 256 + 242) / 243);
}
int8_t DecodeDigit(uint8_t b, int k) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t q = uint8_t(b * kPow3[k]);
  return int8_t(((uint16_t(q) * 3) >> 8) - 1);
}
}  // namespace

void PackBlockTq1_0(const int8_t* t, float d, BlockTq1_0* out) {
  for (int m = 0; m < 32; ++m) out->qs[m] = EncodeBase3(t + m, 5, 32, 0);
  for (int m = 0; m < 16; ++m) out->qs[32 + m] = EncodeBase3(t + 160 + m, 5, 16, 0);
  for (int j = 0; j < 4; ++j) out->qh[j] = EncodeBase3(t + 240 + j, 4, 4, 1);
  out->d = base::Fp32ToFp16(d);
}

void UnpackBlockTq1_0(const BlockTq1_0& b, int8_t* t) {
  for (int m = 0; m < 32; ++m)
    for (int n = 0; n < 5; ++n) t[m + 32 * n] = DecodeDigit(b.qs[m], n);
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 5; ++n) t[160 + m + 16 * n] = DecodeDigit(b.qs[32 + m], n);
  for (int j = 0; j < 4; ++j)
    for (int n = 0; n < 4; ++n) t[240 + j + 4 * n] = DecodeDigit(b.qh[j], n);
}

void PackBlockTq2_0(const int8_t* t, float d, BlockTq2_0* out) {
  for (int c = 0; c < 2; ++c) {
    for (int m = 0; m < 32; ++m) {
      uint8_t q = 0;
      for (int n = 0; n < 4; ++n) q |= uint8_t((t[128 * c + 32 * n + m] + 1) << (2 * n));
      out->qs[32 * c + m] = q;
    }
  }
  out->d = base::Fp32ToFp16(d);
}

void UnpackBlockTq2_0(const BlockTq2_0& b, int8_t* t) {
  for (int c = 0; c < 2; ++c)
    for (int m = 0; m < 32; ++m)
      for (int n = 0; n < 4; ++n)
        t[128 * c + 32 * n + m] = int8_t(((b.qs[32 * c + m] >> (2 * n)) & 3) - 1);
}

float BlockScale(const BlockTq1_0& b) { return base::Fp16ToFp32(b.d); }
float BlockScale(const BlockTq2_0& b) { return base::Fp16ToFp32(b.d); }

namespace {
// Block b of row r: its 256 trits into t, its scale returned.
float UnpackBlock(const TernaryMatrix& m, int64_t r, int64_t b, int8_t* t) {
  if (m.format == TqFormat::kTq1_0) {
    BlockTq1_0 blk;
    std::memcpy(&blk, m.block(r, b), sizeof(blk));
    UnpackBlockTq1_0(blk, t);
    return BlockScale(blk);
  }
  BlockTq2_0 blk;
  std::memcpy(&blk, m.block(r, b), sizeof(blk));
  UnpackBlockTq2_0(blk, t);
  return BlockScale(blk);
}
}  // namespace

TernaryMatrix PackTernary(const int8_t* trits, const float* block_scales, int64_t rows,
                          int64_t cols, TqFormat format) {
  TernaryMatrix m;
  m.format = format;
  m.rows = rows;
  m.cols = cols;
  const int64_t kb = BlocksPerRow(cols);
  const int64_t bb = TqBlockBytes(format);
  m.data.resize(size_t(rows * kb * bb));
  // Rows in parallel: each row's blocks are written by one thread (same bytes for any count).
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 18))
  for (int64_t r = 0; r < rows; ++r) {
    int8_t t[kBlock];
    for (int64_t b = 0; b < kb; ++b) {
      const int64_t len = std::min<int64_t>(kBlock, cols - b * kBlock);
      std::memset(t, 0, sizeof(t));
      std::memcpy(t, trits + r * cols + b * kBlock, size_t(len));
      uint8_t* dst = m.data.data() + (r * kb + b) * bb;
      const float d = block_scales[r * kb + b];
      if (format == TqFormat::kTq1_0) {
        BlockTq1_0 blk;
        PackBlockTq1_0(t, d, &blk);
        std::memcpy(dst, &blk, sizeof(blk));
      } else {
        BlockTq2_0 blk;
        PackBlockTq2_0(t, d, &blk);
        std::memcpy(dst, &blk, sizeof(blk));
      }
    }
  }
  return m;
}

TernaryMatrix QuantizeMatrix(const float* w, int64_t rows, int64_t cols, Granularity g,
                             float threshold, TqFormat format) {
  std::vector<int8_t> trits(size_t(rows * cols));
  std::vector<float> scales(size_t(rows * BlocksPerRow(cols)));
  Ternarize(w, rows, cols, g, threshold, trits.data(), scales.data());
  return PackTernary(trits.data(), scales.data(), rows, cols, format);
}

void UnpackTernary(const TernaryMatrix& m, int8_t* trits, float* block_scales) {
  const int64_t kb = m.blocks_per_row();
#pragma omp parallel for schedule(static) if (m.rows * m.cols > (1 << 18))
  for (int64_t r = 0; r < m.rows; ++r) {
    int8_t t[kBlock];
    for (int64_t b = 0; b < kb; ++b) {
      block_scales[r * kb + b] = UnpackBlock(m, r, b, t);
      const int64_t len = std::min<int64_t>(kBlock, m.cols - b * kBlock);
      std::memcpy(trits + r * m.cols + b * kBlock, t, size_t(len));
    }
  }
}

void Dequantize(const TernaryMatrix& m, float* out) {
  const int64_t kb = m.blocks_per_row();
#pragma omp parallel for schedule(static) if (m.rows * m.cols > (1 << 18))
  for (int64_t r = 0; r < m.rows; ++r) {
    int8_t t[kBlock];
    for (int64_t b = 0; b < kb; ++b) {
      const float d = UnpackBlock(m, r, b, t);
      const int64_t len = std::min<int64_t>(kBlock, m.cols - b * kBlock);
      float* o = out + r * m.cols + b * kBlock;
      for (int64_t i = 0; i < len; ++i) o[i] = d * float(t[i]);
    }
  }
}

}  // namespace t81::quant
