// Repack (TQ blocks -> compute layout), its accessors, and per-row int8 activation quantization.
// ISA-independent: compiled once without ISA flags, shared by every kernel path.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "t81/base/check.h"
#include "t81/base/fp16.h"
#include "t81/kernels/kernels.h"
#include "t81/quant/q8_0.h"

namespace t81::kernels {
namespace {
inline size_t CodeByte(const PackedWeights& w, int64_t row, int64_t col, int* shift) {
  const int64_t tile = row / kTileRows, r = row % kTileRows;
  const int64_t b = col / quant::kBlock, kk = col % quant::kBlock;
  const int64_t c = kk / 16, s = (kk % 16) / 4, i = kk % 4;
  *shift = int(2 * s);
  return size_t(((tile * w.kb + b) * kChunksPerBlock + c) * kChunkBytes + 4 * r + i);
}
}  // namespace

PackedWeights Repack(const quant::TernaryMatrix& m) {
  PackedWeights w;
  w.n = m.rows;
  w.k = m.cols;
  w.kb = m.blocks_per_row();
  w.tiles = (m.rows + kTileRows - 1) / kTileRows;
  // u = 1 (t = 0) everywhere: padding rows and columns contribute nothing.
  w.codes.assign(size_t(w.tiles * w.kb * kTileBlockBytes), 0x55);
  w.scales.assign(size_t(w.tiles * w.kb * kTileRows), 0.0f);
  std::vector<int8_t> trits(size_t(m.rows * m.cols));
  std::vector<float> scales(size_t(m.rows * w.kb));
  quant::UnpackTernary(m, trits.data(), scales.data());
  // Rows in parallel: a code byte holds 4 columns of one row, so rows never share a byte.
#pragma omp parallel for schedule(static) if (m.rows * m.cols > (1 << 18))
  for (int64_t row = 0; row < m.rows; ++row) {
    const int64_t tile = row / kTileRows, r = row % kTileRows;
    for (int64_t b = 0; b < w.kb; ++b) {
      w.scales[size_t((tile * w.kb + b) * kTileRows + r)] = scales[size_t(row * w.kb + b)];
      const int8_t* t = trits.data() + row * m.cols + b * quant::kBlock;
      const int64_t len = std::min<int64_t>(quant::kBlock, m.cols - b * quant::kBlock);
      uint8_t* chunks = w.codes.data() + (tile * w.kb + b) * kTileBlockBytes + 4 * r;
      for (int c = 0; c < kChunksPerBlock; ++c)
        for (int i = 0; i < 4; ++i) {
          uint8_t byte = 0;
          for (int sh = 0; sh < 4; ++sh) {  // column 16c + 4sh + i in bits [2sh, 2sh+1]; padding u = 1
            const int64_t kk = 16 * c + 4 * sh + i;
            byte = uint8_t(byte | ((kk < len ? t[kk] + 1 : 1) << (2 * sh)));
          }
          chunks[c * kChunkBytes + i] = byte;
        }
    }
  }
  return w;
}

int8_t PackedTrit(const PackedWeights& w, int64_t row, int64_t col) {
  int shift;
  const uint8_t byte = w.codes[CodeByte(w, row, col, &shift)];
  return int8_t(((byte >> shift) & 3) - 1);
}

float PackedScale(const PackedWeights& w, int64_t row, int64_t block) {
  return w.scales[size_t(((row / kTileRows) * w.kb + block) * kTileRows + row % kTileRows)];
}

void UnpackPacked(const PackedWeights& w, int8_t* trits, float* block_scales) {
  for (int64_t row = 0; row < w.n; ++row) {
    for (int64_t col = 0; col < w.k; ++col) trits[row * w.k + col] = PackedTrit(w, row, col);
    for (int64_t b = 0; b < w.kb; ++b) block_scales[row * w.kb + b] = PackedScale(w, row, b);
  }
}

Q8Weights RepackQ8_0(const uint8_t* q8_0, int64_t n, int64_t k, const RowsDoneFn& done) {
  T81_CHECK(k % quant::kQ8Block == 0, "Q8_0 rows must be a multiple of 32 long");
  Q8Weights w;
  w.n = n;
  w.k = k;
  w.kb = k / quant::kQ8Block;
  w.tiles = (n + kTileRows - 1) / kTileRows;
  w.codes.assign(size_t(w.tiles * w.kb * 8 * 64), 0);
  w.scales.assign(size_t(w.tiles * w.kb * kTileRows), 0.0f);
  w.wsum.assign(size_t(w.tiles * w.kb * kTileRows), 0);
  for (int64_t row = 0; row < n; ++row) {
    const int64_t tile = row / kTileRows, r = row % kTileRows;
    for (int64_t b = 0; b < w.kb; ++b) {
      const uint8_t* blk = q8_0 + size_t((row * w.kb + b) * quant::kQ8BlockBytes);
      uint16_t h;
      std::memcpy(&h, blk, 2);
      const size_t tb = size_t(tile * w.kb + b);
      w.scales[tb * kTileRows + size_t(r)] = base::Fp16ToFp32(h);
      int32_t sum = 0;
      for (int j = 0; j < quant::kQ8Block; ++j) {
        const int8_t q = int8_t(blk[2 + j]);
        w.codes[tb * 512 + size_t((j / 4) * 64 + 4 * r + j % 4)] = q;
        sum += q;
      }
      w.wsum[tb * kTileRows + size_t(r)] = sum;
    }
    if (done && ((row + 1) % 1024 == 0 || row + 1 == n)) done(row / 1024 * 1024, row + 1);
  }
  return w;
}

HalfWeights RepackHalf(const uint16_t* rows, int64_t n, int64_t k, HalfType type, const RowsDoneFn& done) {
  HalfWeights w;
  w.type = type;
  w.n = n;
  w.k = k;
  w.tiles = (n + kTileRows - 1) / kTileRows;
  w.h.assign(size_t(w.tiles * k * kTileRows), 0);
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t j = 0; j < k; ++j)
      w.h[size_t(((row / kTileRows) * k + j) * kTileRows + row % kTileRows)] = rows[row * k + j];
    if (done && ((row + 1) % 1024 == 0 || row + 1 == n)) done(row / 1024 * 1024, row + 1);
  }
  return w;
}

void DequantRow(const Q8Weights& w, int64_t r, float* out) {
  const int64_t tile = r / kTileRows, i = r % kTileRows;
  for (int64_t b = 0; b < w.kb; ++b) {
    const size_t tb = size_t(tile * w.kb + b);
    const float d = w.scales[tb * kTileRows + size_t(i)];
    for (int j = 0; j < quant::kQ8Block; ++j)
      out[b * quant::kQ8Block + j] = d * float(w.codes[tb * 512 + size_t((j / 4) * 64 + 4 * i + j % 4)]);
  }
}

void DequantRow(const HalfWeights& w, int64_t r, float* out) {
  const uint16_t* h = w.h.data() + (r / kTileRows) * w.k * kTileRows + r % kTileRows;
  if (w.type == HalfType::kF16)
    for (int64_t j = 0; j < w.k; ++j) out[j] = base::Fp16ToFp32(h[j * kTileRows]);
  else
    for (int64_t j = 0; j < w.k; ++j) out[j] = base::Bf16ToFp32(h[j * kTileRows]);
}

void QuantizeActsQ8(const float* x, int64_t m, int64_t k, Q8Acts* out) {
  T81_CHECK(k % quant::kQ8Block == 0);
  out->m = m;
  out->k = k;
  out->kb = k / quant::kQ8Block;
  out->q.resize(size_t(m * k));
  out->d.resize(size_t(m * out->kb));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t b = 0; b < out->kb; ++b) {
      const float* xb = x + i * k + b * quant::kQ8Block;
      float amax = 0.0f;
      for (int j = 0; j < quant::kQ8Block; ++j) amax = std::max(amax, std::fabs(xb[j]));
      const float inv = amax == 0.0f ? 0.0f : 127.0f / amax;
      out->d[size_t(i * out->kb + b)] = amax / 127.0f;
      int8_t* q = out->q.data() + i * k + b * quant::kQ8Block;
      for (int j = 0; j < quant::kQ8Block; ++j) {  // round half to even, as CVTPS2DQ does
        const float v = std::clamp(xb[j] * inv, -127.0f, 127.0f);
        q[j] = int8_t(int((v + 12582912.0f) - 12582912.0f));
      }
    }
}

void QuantizeActs(const KernelTable& kt, const float* x, int64_t m, int64_t k, int64_t ldx,
                  QuantizedActs* out) {
  out->m = m;
  out->k = k;
  out->kb = quant::BlocksPerRow(k);
  const int64_t kp = out->kb * quant::kBlock;
  out->q.resize(size_t(m * kp));
  out->scale.resize(size_t(m));
  out->bsum.resize(size_t(m * out->kb));
  // Rows are independent and each is quantized whole by one thread: results do not depend on
  // the thread count. Small problems stay on the calling thread.
#pragma omp parallel for schedule(static) if (m * k >= (1 << 18))
  for (int64_t i = 0; i < m; ++i)
    kt.quantize_row(x + i * ldx, k, kp, out->q.data() + i * kp, &out->scale[size_t(i)],
                    out->bsum.data() + i * out->kb);
}

}  // namespace t81::kernels
