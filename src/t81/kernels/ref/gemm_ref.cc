// Scalar reference kernels: the specification every SIMD path is tested against.
// Plain loops over PackedTrit/PackedScale; never optimized.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "t81/base/fp16.h"
#include "t81/kernels/isa_tables.h"

namespace t81::kernels::ref {

void QuantizeRow(const float* x, int64_t k, int64_t kp, int8_t* q, float* scale, int32_t* bsum) {
  float amax = 0.0f;
  for (int64_t j = 0; j < k; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float inv = amax == 0.0f ? 0.0f : 127.0f / amax;
  *scale = amax / 127.0f;
  // Round half to even: adding and subtracting 1.5·2^23 rounds any |v| ≤ 127 exactly as the
  // default rounding mode (CVTPS2DQ) does.
  for (int64_t j = 0; j < k; ++j) {
    const float v = std::clamp(x[j] * inv, -127.0f, 127.0f);
    q[j] = int8_t(int((v + 12582912.0f) - 12582912.0f));
  }
  std::fill(q + k, q + kp, int8_t(0));
  for (int64_t b = 0; b < kp / quant::kBlock; ++b) {
    int32_t s = 0;
    for (int64_t j = b * quant::kBlock; j < (b + 1) * quant::kBlock; ++j) s += q[j];
    bsum[b] = s;
  }
}

// f32 path: per output, per block: s = Σ_k t·x (k ascending), acc = fma(s, d, acc);
// y = alpha·acc (+ beta·y).
void GemmF32Range(const PackedWeights& w, const float* x, int64_t ldx, int64_t m0, int64_t m1,
                  int64_t t0, int64_t t1, float* y, int64_t ldy, float alpha, float beta) {
  const int64_t n1 = std::min(w.n, t1 * kTileRows);
  for (int64_t i = m0; i < m1; ++i) {
    const float* xr = x + i * ldx;
    for (int64_t n = t0 * kTileRows; n < n1; ++n) {
      float acc = 0.0f;
      for (int64_t b = 0; b < w.kb; ++b) {
        float s = 0.0f;
        const int64_t k1 = std::min(w.k, (b + 1) * quant::kBlock);
        for (int64_t k = b * quant::kBlock; k < k1; ++k) s += float(PackedTrit(w, n, k)) * xr[k];
        acc = std::fma(s, PackedScale(w, n, b), acc);
      }
      const float r = alpha * acc;
      float& out = y[i * ldy + n];
      out = beta == 0.0f ? r : std::fma(beta, out, r);
    }
  }
}

// i8 path (the exact contract every ISA reproduces bit for bit):
//   isum_b = Σ_k (t+1)·q over block b;  acc = fma(float(isum_b - bsum_b), d_b, acc), b ascending;
//   r = acc · (alpha · scale_m);  y = beta == 0 ? r : fma(beta, y, r).
void GemmI8Range(const PackedWeights& w, const QuantizedActs& x, int64_t m0, int64_t m1,
                 int64_t t0, int64_t t1, float* y, int64_t ldy, float alpha, float beta) {
  const int64_t n1 = std::min(w.n, t1 * kTileRows);
  const int64_t kp = x.kb * quant::kBlock;
  for (int64_t i = m0; i < m1; ++i) {
    const int8_t* q = x.q.data() + i * kp;
    const float as = alpha * x.scale[size_t(i)];
    for (int64_t n = t0 * kTileRows; n < n1; ++n) {
      float acc = 0.0f;
      for (int64_t b = 0; b < w.kb; ++b) {
        int32_t isum = 0;
        for (int64_t k = b * quant::kBlock; k < (b + 1) * quant::kBlock; ++k) {
          isum += (PackedTrit(w, n, k) + 1) * int32_t(q[k]);  // padding: t = 0, q = 0
        }
        acc = std::fma(float(isum - x.bsum[size_t(i * x.kb + b)]), PackedScale(w, n, b), acc);
      }
      const float r = acc * as;
      float& out = y[i * ldy + n];
      out = beta == 0.0f ? r : std::fma(beta, out, r);
    }
  }
}

// 8-bit weights: per output, blocks ascending: isum = Σ w·q, acc = fma(float(isum), d_w · d_x, acc).
void GemmQ8Range(const Q8Weights& w, const Q8Acts& x, int64_t m0, int64_t m1, int64_t t0, int64_t t1,
                 float* y, int64_t ldy) {
  const int64_t n1 = std::min(w.n, t1 * kTileRows);
  for (int64_t i = m0; i < m1; ++i)
    for (int64_t o = t0 * kTileRows; o < n1; ++o) {
      const int64_t tile = o / kTileRows, r = o % kTileRows;
      float acc = 0.0f;
      for (int64_t b = 0; b < w.kb; ++b) {
        const int8_t* blk = w.codes.data() + (tile * w.kb + b) * 512;
        const int8_t* q = x.q.data() + i * x.k + b * 32;
        int32_t isum = 0;
        for (int j = 0; j < 32; ++j) isum += int32_t(blk[(j / 4) * 64 + 4 * r + j % 4]) * q[j];
        const float s = w.scales[size_t((tile * w.kb + b) * kTileRows + r)] * x.d[size_t(i * x.kb + b)];
        acc = std::fma(float(isum), s, acc);
      }
      y[i * ldy + o] = acc;
    }
}

void GemmHalfRange(const HalfWeights& w, const float* x, int64_t ldx, int64_t m0, int64_t m1, int64_t t0,
                  int64_t t1, float* y, int64_t ldy) {
  const int64_t n1 = std::min(w.n, t1 * kTileRows);
  for (int64_t i = m0; i < m1; ++i)
    for (int64_t o = t0 * kTileRows; o < n1; ++o) {
      const uint16_t* h = w.h.data() + (o / kTileRows) * w.k * kTileRows + o % kTileRows;
      float acc = 0.0f;
      for (int64_t j = 0; j < w.k; ++j) {
        const float wj = w.type == HalfType::kF16 ? base::Fp16ToFp32(h[j * kTileRows]) : base::Bf16ToFp32(h[j * kTileRows]);
        acc = std::fma(x[i * ldx + j], wj, acc);
      }
      y[i * ldy + o] = acc;
    }
}

void GemvF32Range(const float* w, int64_t k, const float* x, int64_t r0, int64_t r1, float* y) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* wr = w + r * k;
    float acc[16] = {};
    for (int64_t c = 0; c < k; c += 16)
      for (int l = 0; l < 16; ++l) {
        const bool in = c + l < k;  // zero-padded last step: fma(0, 0, acc), as the vector paths
        acc[l] = std::fma(in ? wr[c + l] : 0.0f, in ? x[c + l] : 0.0f, acc[l]);
      }
    for (int width = 8; width >= 1; width /= 2)
      for (int l = 0; l < width; ++l) acc[l] = acc[l] + acc[l + width];
    y[r] = acc[0];
  }
}

const KernelTable kTable{Isa::kScalar, GemmF32Range, GemmI8Range, QuantizeRow, GemmQ8Range, GemmHalfRange, GemvF32Range, T81_FLOAT_OPS_ENTRIES};

}  // namespace t81::kernels::ref
