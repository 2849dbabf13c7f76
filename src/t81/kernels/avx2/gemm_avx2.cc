// AVX2 + FMA kernels. Compiled with their own flags; reached only through the kernel table after
// the CPU check. A W tile is two ymm halves (rows 0-7, rows 8-15); integer dot products by
// VPMADDUBSW (u8 codes × s8 activations, no saturation: |2·2·127| < 2^15) then VPMADDWD.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "t81/kernels/isa_tables.h"

namespace t81::kernels::avx2 {
namespace {


inline __m256i Bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// r = acc · as; y = beta == 0 ? r : fma(beta, y, r) for the tile's valid rows [0, valid).
inline void Store(const float* acc, float as, float beta, float* y, int64_t valid) {
  if (valid == kTileRows) {
    T81_UNROLL for (int h = 0; h < 2; ++h) {
      __m256 r = _mm256_mul_ps(_mm256_load_ps(acc + 8 * h), _mm256_set1_ps(as));
      if (beta != 0.0f) r = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(y + 8 * h), r);
      _mm256_storeu_ps(y + 8 * h, r);
    }
    return;
  }
  alignas(32) float tmp[16];
  T81_UNROLL for (int h = 0; h < 2; ++h) {
    __m256 r = _mm256_mul_ps(_mm256_load_ps(acc + 8 * h), _mm256_set1_ps(as));
    _mm256_store_ps(tmp + 8 * h, r);
  }
  for (int64_t j = 0; j < valid; ++j) y[j] = beta == 0.0f ? tmp[j] : __builtin_fmaf(beta, y[j], tmp[j]);
}

// Integer sums in int16 lanes, widened to int32 (VPMADDWD) every half block: a VPMADDUBSW lane is
// u·q + u'·q' with u ≤ 3 (a TQ2_0 code 3 decodes to t = +2, as in ggml), |q| ≤ 127, so |lane| ≤ 762
// and 32 steps stay within ±24384: exact, no saturation.
// Decode (MR ≤ 2) prefetches W kPrefetchBytes ahead and the scales kPrefetchBlocks blocks ahead: a
// tile's stream continues into the next tile's, the next call's (see the AVX-512 GEMV).
constexpr int64_t kPrefetchBytes = 2048, kPrefetchBlocks = 4;

template <int MR>
void MicroI8(const PackedWeights& w, const QuantizedActs& x, int64_t m0, int64_t tile, float* y,
             int64_t ldy, float alpha, float beta) {
  const int64_t kb = w.kb, kp = kb * 256;
  alignas(32) float facc[MR][16] = {};
  const __m256i mask3 = _mm256_set1_epi8(3);
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < kb; ++b) {
    __m256i acc[MR][2];
    T81_UNROLL for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    const uint8_t* wp = w.codes.data() + (tile * kb + b) * kTileBlockBytes;
    const int8_t* xp[MR];
    T81_UNROLL for (int i = 0; i < MR; ++i) xp[i] = x.q.data() + (m0 + i) * kp + b * 256;
    alignas(32) int32_t part[MR][16];  // the first half block's sums
    for (int c = 0; c < kChunksPerBlock; ++c) {
      if (c == kChunksPerBlock / 2)
        T81_UNROLL for (int i = 0; i < MR; ++i) T81_UNROLL for (int h = 0; h < 2; ++h) {
          _mm256_store_si256(reinterpret_cast<__m256i*>(part[i] + 8 * h), _mm256_madd_epi16(acc[i][h], ones));
          acc[i][h] = _mm256_setzero_si256();
        }
      if (MR <= 2) {
        const int64_t end = (w.tiles * kb - tile * kb - b) * kTileBlockBytes;  // bytes left in W from wp
        if (c * kChunkBytes + kPrefetchBytes < end) Prefetch(wp + c * kChunkBytes + kPrefetchBytes);
        if (c == 0 && (kPrefetchBlocks + 1) * kTileBlockBytes <= end) Prefetch(w.scales.data() + (tile * kb + b + kPrefetchBlocks) * kTileRows);
      }
      const __m256i p0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(wp + c * kChunkBytes));
      const __m256i p1 =
          _mm256_load_si256(reinterpret_cast<const __m256i*>(wp + c * kChunkBytes + 32));
      T81_UNROLL for (int s = 0; s < 4; ++s) {
        const __m256i u0 = _mm256_and_si256(_mm256_srli_epi16(p0, 2 * s), mask3);
        const __m256i u1 = _mm256_and_si256(_mm256_srli_epi16(p1, 2 * s), mask3);
        T81_UNROLL for (int i = 0; i < MR; ++i) {
          const __m256i xb = Bcast4(xp[i] + c * 16 + 4 * s);
          acc[i][0] = _mm256_add_epi16(acc[i][0], _mm256_maddubs_epi16(u0, xb));
          acc[i][1] = _mm256_add_epi16(acc[i][1], _mm256_maddubs_epi16(u1, xb));
        }
      }
    }
    const float* ds = w.scales.data() + (tile * kb + b) * kTileRows;
    T81_UNROLL for (int h = 0; h < 2; ++h) {
      const __m256 d = _mm256_load_ps(ds + 8 * h);
      T81_UNROLL for (int i = 0; i < MR; ++i) {
        const __m256i bs = _mm256_set1_epi32(x.bsum[size_t((m0 + i) * kb + b)]);
        const __m256i isum = _mm256_add_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(part[i] + 8 * h)),
                                              _mm256_madd_epi16(acc[i][h], ones));
        const __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(isum, bs));
        _mm256_store_ps(facc[i] + 8 * h, _mm256_fmadd_ps(v, d, _mm256_load_ps(facc[i] + 8 * h)));
      }
    }
  }
  const int64_t valid = std::min<int64_t>(kTileRows, w.n - tile * kTileRows);
  T81_UNROLL for (int i = 0; i < MR; ++i)
    Store(facc[i], alpha * x.scale[size_t(m0 + i)], beta, y + (m0 + i) * ldy + tile * kTileRows,
          valid);
}

// GEMM (M ≥ 3), as on AVX-512 (docs/kernels.md): per (tile, 256-block) the codes are expanded
// once into a 4 KiB panel of u bytes, step q = 4c + s as two ymm halves (rows 0-7, 8-15), shared
// by up to 64 rows of X; the inner loop is loads, broadcasts, VPMADDUBSW and 16-bit adds.
constexpr int kSteps = kChunksPerBlock * 4;
constexpr int kMaxRows = 64;

inline void ExpandPanel(const uint8_t* codes, uint8_t* panel) {  // 1024 B -> 4096 B
  const __m256i mask3 = _mm256_set1_epi8(3);
  for (int c = 0; c < kChunksPerBlock; ++c)
    T81_UNROLL for (int h = 0; h < 2; ++h) {
      const __m256i p = _mm256_load_si256(reinterpret_cast<const __m256i*>(codes + c * kChunkBytes + 32 * h));
      T81_UNROLL for (int s = 0; s < 4; ++s)
        _mm256_store_si256(reinterpret_cast<__m256i*>(panel + (4 * c + s) * 64 + 32 * h),
                           _mm256_and_si256(_mm256_srli_epi16(p, 2 * s), mask3));
    }
}

// acc16 += VPMADDUBSW(u, x) as one asm statement, so that GCC keeps each accumulator in place.
inline void MaddAdd(__m256i& acc, __m256i u, __m256i x) {
  __m256i t;
  asm("vpmaddubsw %3, %2, %1\n\tvpaddw %1, %0, %0" : "+x"(acc), "=&x"(t) : "x"(u), "x"(x));
}

template <int MR>
inline void PanelMicro(const uint8_t* panel, const int8_t* xq, int64_t kp, const int32_t* bsum,
                       int64_t bstride, const float* d, float* facc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[MR][2];
  T81_UNROLL for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  alignas(32) int32_t part[MR][16];  // the first half block's sums (see MicroI8 for the bound)
#pragma GCC unroll 1
  for (int half = 0; half < 2; ++half) {
#pragma GCC unroll 1
    for (int q = half * kSteps / 2; q < (half + 1) * kSteps / 2; ++q) {
      const __m256i u0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(panel + q * 64));
      const __m256i u1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(panel + q * 64 + 32));
      T81_UNROLL for (int i = 0; i < MR; ++i) {
        const __m256i xb = Bcast4(xq + i * kp + 4 * q);
        MaddAdd(acc[i][0], u0, xb);
        MaddAdd(acc[i][1], u1, xb);
      }
    }
    if (half == 0)
      T81_UNROLL for (int i = 0; i < MR; ++i) T81_UNROLL for (int h = 0; h < 2; ++h) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(part[i] + 8 * h), _mm256_madd_epi16(acc[i][h], ones));
        acc[i][h] = _mm256_setzero_si256();
      }
  }
  T81_UNROLL for (int h = 0; h < 2; ++h) {
    const __m256 dh = _mm256_load_ps(d + 8 * h);
    T81_UNROLL for (int i = 0; i < MR; ++i) {
      const __m256i bs = _mm256_set1_epi32(bsum[i * bstride]);
      const __m256i isum = _mm256_add_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(part[i] + 8 * h)),
                                            _mm256_madd_epi16(acc[i][h], ones));
      const __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(isum, bs));
      float* f = facc + i * 16 + 8 * h;
      _mm256_store_ps(f, _mm256_fmadd_ps(v, dh, _mm256_load_ps(f)));
    }
  }
}

template <int R>
inline void PanelTail(int r, const uint8_t* panel, const int8_t* xq, int64_t kp, const int32_t* bsum,
                      int64_t bstride, const float* d, float* facc) {
  if constexpr (R > 0) {
    if (r == R) return PanelMicro<R>(panel, xq, kp, bsum, bstride, d, facc);
    PanelTail<R - 1>(r, panel, xq, kp, bsum, bstride, d, facc);
  }
}

void PanelRows(const PackedWeights& w, const QuantizedActs& x, int64_t m0, int64_t m1, int64_t tile,
               float* y, int64_t ldy, float alpha, float beta) {
  constexpr int kMr = 6;  // 12 accumulators + 2 panel halves + 1 broadcast of 16 ymm
  const int64_t kb = w.kb, kp = kb * 256, rows = m1 - m0;
  alignas(32) uint8_t panel[kSteps * 64];
  alignas(32) float facc[kMaxRows][16];
  std::memset(facc, 0, sizeof(float) * size_t(rows) * 16);
  for (int64_t b = 0; b < kb; ++b) {
    ExpandPanel(w.codes.data() + (tile * kb + b) * kTileBlockBytes, panel);
    const float* d = w.scales.data() + (tile * kb + b) * kTileRows;
    const int8_t* xq = x.q.data() + m0 * kp + b * 256;
    const int32_t* bs = x.bsum.data() + m0 * kb + b;
    int64_t i = 0;
    for (; i + kMr <= rows; i += kMr) PanelMicro<kMr>(panel, xq + i * kp, kp, bs + i * kb, kb, d, facc[i]);
    if (i < rows) PanelTail<kMr - 1>(int(rows - i), panel, xq + i * kp, kp, bs + i * kb, kb, d, facc[i]);
  }
  const int64_t valid = std::min<int64_t>(kTileRows, w.n - tile * kTileRows);
  for (int64_t i = 0; i < rows; ++i)
    Store(facc[i], alpha * x.scale[size_t(m0 + i)], beta, y + (m0 + i) * ldy + tile * kTileRows, valid);
}

inline void DequantPanel(const PackedWeights& w, int64_t tile, int64_t b, float* panel) {
  const uint8_t* wp = w.codes.data() + (tile * w.kb + b) * kTileBlockBytes;
  const __m256i mask3 = _mm256_set1_epi8(3);
  const __m256i ff = _mm256_set1_epi32(0xff);
  const __m256 one = _mm256_set1_ps(1.0f);
  for (int c = 0; c < kChunksPerBlock; ++c) {
    T81_UNROLL for (int h = 0; h < 2; ++h) {
      const __m256i p =
          _mm256_load_si256(reinterpret_cast<const __m256i*>(wp + c * kChunkBytes + 32 * h));
      T81_UNROLL for (int s = 0; s < 4; ++s) {
        const __m256i u = _mm256_and_si256(_mm256_srli_epi16(p, 2 * s), mask3);
        T81_UNROLL for (int i = 0; i < 4; ++i) {
          const __m256i v = _mm256_and_si256(_mm256_srli_epi32(u, 8 * i), ff);
          _mm256_store_ps(panel + (c * 16 + s * 4 + i) * 16 + 8 * h,
                          _mm256_sub_ps(_mm256_cvtepi32_ps(v), one));
        }
      }
    }
  }
}

template <int MR>
void MicroF32(const float* panel, const float* x, int64_t ldx, int64_t klen, float (*out)[16]) {
  __m256 a[MR][2];
  T81_UNROLL for (int i = 0; i < MR; ++i) a[i][0] = a[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < klen; ++k) {
    const __m256 w0 = _mm256_load_ps(panel + k * 16), w1 = _mm256_load_ps(panel + k * 16 + 8);
    T81_UNROLL for (int i = 0; i < MR; ++i) {
      const __m256 xv = _mm256_set1_ps(x[i * ldx + k]);
      a[i][0] = _mm256_fmadd_ps(xv, w0, a[i][0]);
      a[i][1] = _mm256_fmadd_ps(xv, w1, a[i][1]);
    }
  }
  T81_UNROLL for (int i = 0; i < MR; ++i) {
    _mm256_store_ps(out[i], a[i][0]);
    _mm256_store_ps(out[i] + 8, a[i][1]);
  }
}

}  // namespace

void QuantizeRow(const float* x, int64_t k, int64_t kp, int8_t* q, float* scale, int32_t* bsum) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 vmax = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= k; j += 8) vmax = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + j), absmask), vmax);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmax);
  float amax = 0.0f;
  for (float v : lanes) amax = std::max(amax, v);
  for (; j < k; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float inv = amax == 0.0f ? 0.0f : 127.0f / amax;
  *scale = amax / 127.0f;
  const __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  alignas(32) float tail[8];
  for (int64_t b = 0; b < kp / 256; ++b) {
    __m256i sum = _mm256_setzero_si256();
    for (j = b * 256; j < (b + 1) * 256; j += 8) {
      __m256 xv;
      if (j + 8 <= k) {
        xv = _mm256_loadu_ps(x + j);
      } else {
        for (int t = 0; t < 8; ++t) tail[t] = j + t < k ? x[j + t] : 0.0f;
        xv = _mm256_load_ps(tail);
      }
      const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(xv, vinv), lo), hi);
      const __m256i iv = _mm256_cvtps_epi32(v);  // round half to even (default MXCSR)
      sum = _mm256_add_epi32(sum, iv);
      const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(iv), _mm256_extracti128_si256(iv, 1));
      const __m128i bytes = _mm_packs_epi16(w, w);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(q + j), bytes);
    }
    alignas(32) int32_t s8[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(s8), sum);
    bsum[b] = s8[0] + s8[1] + s8[2] + s8[3] + s8[4] + s8[5] + s8[6] + s8[7];
  }
}

void GemmI8Range(const PackedWeights& w, const QuantizedActs& x, int64_t m0, int64_t m1,
                 int64_t t0, int64_t t1, float* y, int64_t ldy, float alpha, float beta) {
  if (m1 - m0 >= 3) {
    for (int64_t r0 = m0; r0 < m1; r0 += kMaxRows)
      for (int64_t t = t0; t < t1; ++t) PanelRows(w, x, r0, std::min(m1, r0 + kMaxRows), t, y, ldy, alpha, beta);
    return;
  }
  for (int64_t t = t0; t < t1; ++t) {
    int64_t i = m0;
    for (; i + 4 <= m1; i += 4) MicroI8<4>(w, x, i, t, y, ldy, alpha, beta);
    switch (m1 - i) {
      case 3: MicroI8<3>(w, x, i, t, y, ldy, alpha, beta); break;
      case 2: MicroI8<2>(w, x, i, t, y, ldy, alpha, beta); break;
      case 1: MicroI8<1>(w, x, i, t, y, ldy, alpha, beta); break;
      default: break;
    }
  }
}

void GemmF32Range(const PackedWeights& w, const float* x, int64_t ldx, int64_t m0, int64_t m1,
                  int64_t t0, int64_t t1, float* y, int64_t ldy, float alpha, float beta) {
  constexpr int kMr = 4;
  alignas(32) float panel[256 * 16];
  alignas(32) float facc[64][16];
  alignas(32) float s[kMr][16];
  const int64_t rows = m1 - m0;
  T81_CHECK(rows <= 64);
  for (int64_t t = t0; t < t1; ++t) {
    std::memset(facc, 0, sizeof(facc));
    for (int64_t b = 0; b < w.kb; ++b) {
      DequantPanel(w, t, b, panel);
      const float* ds = w.scales.data() + (t * w.kb + b) * kTileRows;
      const int64_t klen = std::min<int64_t>(256, w.k - b * 256);
      for (int64_t i = 0; i < rows; i += kMr) {
        const float* xr = x + (m0 + i) * ldx + b * 256;
        const int64_t mr = std::min<int64_t>(kMr, rows - i);
        switch (mr) {
          case 4: MicroF32<4>(panel, xr, ldx, klen, s); break;
          case 3: MicroF32<3>(panel, xr, ldx, klen, s); break;
          case 2: MicroF32<2>(panel, xr, ldx, klen, s); break;
          default: MicroF32<1>(panel, xr, ldx, klen, s); break;
        }
        for (int64_t r = 0; r < mr; ++r)
          T81_UNROLL for (int h = 0; h < 2; ++h)
            _mm256_store_ps(facc[i + r] + 8 * h,
                            _mm256_fmadd_ps(_mm256_load_ps(s[r] + 8 * h), _mm256_load_ps(ds + 8 * h),
                                            _mm256_load_ps(facc[i + r] + 8 * h)));
      }
    }
    const int64_t valid = std::min<int64_t>(kTileRows, w.n - t * kTileRows);
    for (int64_t i = 0; i < rows; ++i)
      Store(facc[i], alpha, beta, y + (m0 + i) * ldy + t * kTileRows, valid);
  }
}

namespace {

// 8-bit weights, one row of X against one tile (two ymm halves of 8 rows). Signed × signed via
// VPMADDUBSW(|w|, sign(q, w)): pairs ≤ 2 · 128 · 127 < 2^15, then VPMADDWD to int32.
void MicroQ8(const Q8Weights& w, const Q8Acts& x, int64_t i, int64_t tile, float* y) {
  __m256 facc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < w.kb; ++b) {
    __m256i acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    const int8_t* q = x.q.data() + i * x.k + b * 32;
    const int8_t* wp = w.codes.data() + (tile * w.kb + b) * 512;
    T81_UNROLL for (int s = 0; s < 8; ++s) {
      const __m256i xb = Bcast4(q + 4 * s);
      T81_UNROLL for (int h = 0; h < 2; ++h) {
        const __m256i wv = _mm256_load_si256(reinterpret_cast<const __m256i*>(wp + s * 64 + 32 * h));
        const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(xb, wv));
        acc[h] = _mm256_add_epi32(acc[h], _mm256_madd_epi16(p, ones));
      }
    }
    const __m256 dx = _mm256_set1_ps(x.d[size_t(i * x.kb + b)]);
    const size_t tb = size_t((tile * w.kb + b) * kTileRows);
    T81_UNROLL for (int h = 0; h < 2; ++h)
      facc[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[h]), _mm256_mul_ps(_mm256_load_ps(w.scales.data() + tb + 8 * h), dx),
                                facc[h]);
  }
  alignas(32) float out[16];
  _mm256_store_ps(out, facc[0]);
  _mm256_store_ps(out + 8, facc[1]);
  const int64_t valid = std::min<int64_t>(kTileRows, w.n - tile * kTileRows);
  std::memcpy(y + tile * kTileRows, out, size_t(valid) * 4);
}

// fp16 weights: one row of X against one tile (two halves: two FMA chains).
template <HalfType T>
inline __m256 Load8(const uint16_t* p) {  // 8 halves to floats
  const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (T == HalfType::kF16) return _mm256_cvtph_ps(v);
  else return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
}

template <HalfType T>
void MicroHalf(const HalfWeights& w, const float* x, int64_t tile, float* y) {
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  const uint16_t* h = w.h.data() + tile * w.k * kTileRows;
  for (int64_t k = 0; k < w.k; ++k) {
    const __m256 xv = _mm256_set1_ps(x[k]);
    T81_UNROLL for (int j = 0; j < 2; ++j) {
      const __m256 wv = Load8<T>(h + k * kTileRows + 8 * j);
      acc[j] = _mm256_fmadd_ps(xv, wv, acc[j]);
    }
  }
  alignas(32) float out[16];
  _mm256_store_ps(out, acc[0]);
  _mm256_store_ps(out + 8, acc[1]);
  const int64_t valid = std::min<int64_t>(kTileRows, w.n - tile * kTileRows);
  std::memcpy(y + tile * kTileRows, out, size_t(valid) * 4);
}

}  // namespace

void GemmHalfRange(const HalfWeights& w, const float* x, int64_t ldx, int64_t m0, int64_t m1, int64_t t0,
                  int64_t t1, float* y, int64_t ldy) {
  for (int64_t i = m0; i < m1; ++i)
    for (int64_t t = t0; t < t1; ++t) {
      if (w.type == HalfType::kF16) MicroHalf<HalfType::kF16>(w, x + i * ldx, t, y + i * ldy);
      else MicroHalf<HalfType::kBF16>(w, x + i * ldx, t, y + i * ldy);
    }
}

void GemmQ8Range(const Q8Weights& w, const Q8Acts& x, int64_t m0, int64_t m1, int64_t t0, int64_t t1,
                 float* y, int64_t ldy) {
  for (int64_t i = m0; i < m1; ++i)
    for (int64_t t = t0; t < t1; ++t) MicroQ8(w, x, i, t, y + i * ldy);
}

namespace {
// Lanes 0-7 in lo, 8-15 in hi, reduced by the tree (l, l+8), (l, l+4), (l, l+2), (0, 1).
inline float Tree16(__m256 lo, __m256 hi) {
  alignas(32) float v[16];
  _mm256_store_ps(v, lo);
  _mm256_store_ps(v + 8, hi);
  for (int width = 8; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) v[l] = v[l] + v[l + width];
  return v[0];
}

inline __m256i TailMask(int64_t n) {  // the first n (< 8, may be <= 0) lanes
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), idx);
}

template <int R>
inline void GemvRows(const float* w, int64_t k, const float* x, int64_t r, float* y) {
  __m256 lo[R], hi[R];
  T81_UNROLL for (int i = 0; i < R; ++i) lo[i] = hi[i] = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 16 <= k; c += 16) {
    const __m256 xl = _mm256_loadu_ps(x + c), xh = _mm256_loadu_ps(x + c + 8);
    T81_UNROLL for (int i = 0; i < R; ++i) {
      lo[i] = _mm256_fmadd_ps(_mm256_loadu_ps(w + (r + i) * k + c), xl, lo[i]);
      hi[i] = _mm256_fmadd_ps(_mm256_loadu_ps(w + (r + i) * k + c + 8), xh, hi[i]);
    }
  }
  if (c < k) {  // zero-padded last step
    const __m256i ml = TailMask(k - c), mh = TailMask(k - c - 8);
    const __m256 xl = _mm256_maskload_ps(x + c, ml), xh = _mm256_maskload_ps(x + c + 8, mh);
    T81_UNROLL for (int i = 0; i < R; ++i) {
      lo[i] = _mm256_fmadd_ps(_mm256_maskload_ps(w + (r + i) * k + c, ml), xl, lo[i]);
      hi[i] = _mm256_fmadd_ps(_mm256_maskload_ps(w + (r + i) * k + c + 8, mh), xh, hi[i]);
    }
  }
  T81_UNROLL for (int i = 0; i < R; ++i) y[r + i] = Tree16(lo[i], hi[i]);
}
}  // namespace

void GemvF32Range(const float* w, int64_t k, const float* x, int64_t r0, int64_t r1, float* y) {
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) GemvRows<4>(w, k, x, r, y);
  for (; r < r1; ++r) GemvRows<1>(w, k, x, r, y);
}

const KernelTable kTable{Isa::kAvx2, GemmF32Range, GemmI8Range, QuantizeRow, GemmQ8Range, GemmHalfRange, GemvF32Range, T81_FLOAT_OPS_ENTRIES};

}  // namespace t81::kernels::avx2
