// AVX-512 (F/BW/VL/DQ + VNNI) kernels. Compiled with their own flags; reached only through the
// kernel table after the CPU check. Lanes are the 16 rows of a W tile.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "t81/kernels/isa_tables.h"

namespace t81::kernels::avx512 {
namespace {


inline __m512i Bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

inline __mmask16 TileMask(int64_t n, int64_t tile) {  // the valid rows of a tile of an n-row W
  const int64_t valid = std::min<int64_t>(kTileRows, n - tile * kTileRows);
  return __mmask16((1u << valid) - 1);
}
inline __mmask16 TileMask(const PackedWeights& w, int64_t tile) { return TileMask(w.n, tile); }

// r = acc · as; y = beta == 0 ? r : fma(beta, y, r); only the tile's valid rows are written.
inline void Store(__m512 acc, float as, float beta, float* y, __mmask16 mask) {
  __m512 r = _mm512_mul_ps(acc, _mm512_set1_ps(as));
  if (beta != 0.0f) r = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mask, y), r);
  _mm512_mask_storeu_ps(y, mask, r);
}

// acc += VPDPBUSD(u, x). Written as an asm statement so that GCC keeps each accumulator in one
// register (with the intrinsic, GCC 12 copies the accumulators every iteration).
inline void Dpbusd(__m512i& acc, __m512i u, __m512i x) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(x));
}

// Decode streams NT tiles of W at once (NT streams of kb KiB each, then the next NT tiles: the
// thread's next item under the drivers' static schedule). The hardware prefetcher restarts on
// every new stream and these are short (12 KiB at K = 3072), so the GEMV prefetches each stream
// kPrefetchBytes ahead — past a stream's end, into the same stream of the next NT tiles — and
// the tiles' scales kPrefetchBlocks blocks ahead. Measured with BM_DecodeGemvDram (2 threads,
// 16384 × 3072, 20 copies): 29–44 GB/s without, 55–62 GB/s with (streaming read: 55 GB/s).
constexpr int64_t kPrefetchBytes = 2048, kPrefetchBlocks = 4;

template <int NT>
inline void PrefetchAhead(const PackedWeights& w, int64_t tile0, int64_t b, int c) {
  const int64_t kb = w.kb, stream = kb * kTileBlockBytes;
  const int64_t at = b * kTileBlockBytes + c * kChunkBytes + kPrefetchBytes;
  const bool next = at >= stream;  // (a hint only: for tiny K the position in the next stream is approximate)
  T81_UNROLL for (int j = 0; j < NT; ++j) {
    const int64_t tile = tile0 + j + (next ? NT : 0);
    if (tile < w.tiles) Prefetch(w.codes.data() + tile * stream + (next ? at - stream : at));
  }
  if (c != 0) return;
  const int64_t bb = b + kPrefetchBlocks;
  const bool snext = bb >= kb;
  T81_UNROLL for (int j = 0; j < NT; ++j) {
    const int64_t tile = tile0 + j + (snext ? NT : 0);
    if (tile < w.tiles && (!snext || bb - kb < kb))
      Prefetch(w.scales.data() + (tile * kb + (snext ? bb - kb : bb)) * kTileRows);
  }
}

// Few rows of X (decode, GEMV): instead of shifting each 2-bit field down (VPSRLW competes with
// VPDPBUSD for port 0 on Intel cores), mask it in place, (chunk & (3 << 2s)) = 4^s·u, and keep
// one accumulator per shift s. 4^s·u ≤ 128 stays an unsigned byte; acc_s is 4^s times an integer,
// so acc_0 + (acc_1 >> 2) + (acc_2 >> 4) + (acc_3 >> 6) is exactly Σ u·q, as in MicroI8.
template <int MR, int NT>
void MicroI8Masked(const PackedWeights& w, const QuantizedActs& x, int64_t m0, int64_t tile0, float* y,
                   int64_t ldy, float alpha, float beta) {
  const int64_t kb = w.kb, kp = kb * 256;
  alignas(64) float facc[MR][NT][16] = {};
  const __m512i mask[4] = {_mm512_set1_epi8(0x03), _mm512_set1_epi8(0x0c), _mm512_set1_epi8(0x30),
                           _mm512_set1_epi8(char(0xc0))};
  for (int64_t b = 0; b < kb; ++b) {
    __m512i acc[MR][NT][4];
    T81_UNROLL for (int i = 0; i < MR; ++i)
      T81_UNROLL for (int j = 0; j < NT; ++j)
        T81_UNROLL for (int s = 0; s < 4; ++s) acc[i][j][s] = _mm512_setzero_si512();
    const uint8_t* wp[NT];
    T81_UNROLL for (int j = 0; j < NT; ++j) wp[j] = w.codes.data() + ((tile0 + j) * kb + b) * kTileBlockBytes;
    const int8_t* xp[MR];
    T81_UNROLL for (int i = 0; i < MR; ++i) xp[i] = x.q.data() + (m0 + i) * kp + b * 256;
    for (int c = 0; c < kChunksPerBlock; ++c) {
      __m512i p[NT];
      if (MR == 1) PrefetchAhead<NT>(w, tile0, b, c);
      T81_UNROLL for (int j = 0; j < NT; ++j) p[j] = _mm512_load_si512(wp[j] + c * kChunkBytes);
      T81_UNROLL for (int s = 0; s < 4; ++s)
        T81_UNROLL for (int i = 0; i < MR; ++i) {
          const __m512i xb = Bcast4(xp[i] + c * 16 + 4 * s);
          T81_UNROLL for (int j = 0; j < NT; ++j)
            Dpbusd(acc[i][j][s], _mm512_and_si512(p[j], mask[s]), xb);
        }
    }
    T81_UNROLL for (int j = 0; j < NT; ++j) {
      const __m512 d = _mm512_load_ps(w.scales.data() + ((tile0 + j) * kb + b) * kTileRows);
      T81_UNROLL for (int i = 0; i < MR; ++i) {
        __m512i sum = _mm512_add_epi32(acc[i][j][0], _mm512_srai_epi32(acc[i][j][1], 2));
        sum = _mm512_add_epi32(sum, _mm512_srai_epi32(acc[i][j][2], 4));
        sum = _mm512_add_epi32(sum, _mm512_srai_epi32(acc[i][j][3], 6));
        const __m512i bs = _mm512_set1_epi32(x.bsum[size_t((m0 + i) * kb + b)]);
        const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(sum, bs));
        _mm512_store_ps(facc[i][j], _mm512_fmadd_ps(v, d, _mm512_load_ps(facc[i][j])));
      }
    }
  }
  T81_UNROLL for (int j = 0; j < NT; ++j) {
    const __mmask16 mask16 = TileMask(w, tile0 + j);
    T81_UNROLL for (int i = 0; i < MR; ++i)
      Store(_mm512_load_ps(facc[i][j]), alpha * x.scale[size_t(m0 + i)], beta,
            y + (m0 + i) * ldy + (tile0 + j) * kTileRows, mask16);
  }
}

// GEMM (M ≥ 3). Per (group of up to 4 tiles, 256-block) the 2-bit codes are expanded once into an
// L1-resident panel of u bytes, ordered as the micro-kernel reads them: step q = 4c + s holds
// the 64 bytes (chunk c >> 2s) & 3, i.e. 16 rows × activation bytes [4q, 4q + 4). The inner loop
// is then only loads, broadcasts and VPDPBUSD (no shifts, which compete with VPDPBUSD for port 0
// on Intel cores); the expansion is paid once per block and shared by every row of X.
constexpr int kSteps = kChunksPerBlock * 4;  // 64 VPDPBUSD steps per 256-block
constexpr int kMaxRows = 42;                 // rows of X per panel pass (chosen by measurement: 42 ≈ 64)

inline void ExpandPanel(const uint8_t* codes, uint8_t* panel) {  // 1024 B -> 4096 B
  const __m512i mask3 = _mm512_set1_epi8(3);
  for (int c = 0; c < kChunksPerBlock; ++c) {
    const __m512i p = _mm512_load_si512(codes + c * kChunkBytes);
    _mm512_store_si512(panel + (4 * c + 0) * 64, _mm512_and_si512(p, mask3));
    _mm512_store_si512(panel + (4 * c + 1) * 64, _mm512_and_si512(_mm512_srli_epi16(p, 2), mask3));
    _mm512_store_si512(panel + (4 * c + 2) * 64, _mm512_and_si512(_mm512_srli_epi16(p, 4), mask3));
    _mm512_store_si512(panel + (4 * c + 3) * 64, _mm512_and_si512(_mm512_srli_epi16(p, 6), mask3));
  }
}


// MR rows of X (block b of each, row stride kp) against NT expanded tiles:
// facc[i][j] = fma(float(Σ u·q − bsum[i]), d[j], facc[i][j]).
template <int MR, int NT>
inline void PanelMicro(const uint8_t* panel, const int8_t* xq, int64_t kp, const int32_t* bsum,
                       int64_t bstride, const float* d, int64_t dstride, float* facc) {
  __m512i acc[MR][NT];
  T81_UNROLL for (int i = 0; i < MR; ++i)
    T81_UNROLL for (int j = 0; j < NT; ++j) acc[i][j] = _mm512_setzero_si512();
#pragma GCC unroll 1
  for (int q = 0; q < kSteps; ++q) {
    __m512i u[NT];
    T81_UNROLL for (int j = 0; j < NT; ++j) u[j] = _mm512_load_si512(panel + j * kSteps * 64 + q * 64);
    T81_UNROLL for (int i = 0; i < MR; ++i) {
      const __m512i xb = Bcast4(xq + i * kp + 4 * q);
      T81_UNROLL for (int j = 0; j < NT; ++j) Dpbusd(acc[i][j], u[j], xb);
    }
  }
  T81_UNROLL for (int j = 0; j < NT; ++j) {
    const __m512 dj = _mm512_load_ps(d + j * dstride);
    T81_UNROLL for (int i = 0; i < MR; ++i) {
      const __m512i bs = _mm512_set1_epi32(bsum[i * bstride]);
      const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][j], bs));
      float* f = facc + (i * NT + j) * 16;
      _mm512_store_ps(f, _mm512_fmadd_ps(v, dj, _mm512_load_ps(f)));
    }
  }
}

// PanelMicro<r, NT> for a run-time r ≤ R.
template <int NT, int R>
inline void PanelTail(int r, const uint8_t* panel, const int8_t* xq, int64_t kp, const int32_t* bsum,
                      int64_t bstride, const float* d, int64_t dstride, float* facc) {
  if constexpr (R > 0) {
    if (r == R) return PanelMicro<R, NT>(panel, xq, kp, bsum, bstride, d, dstride, facc);
    PanelTail<NT, R - 1>(r, panel, xq, kp, bsum, bstride, d, dstride, facc);
  }
}

template <int NT, int kMr>
void PanelRows(const PackedWeights& w, const QuantizedActs& x, int64_t m0, int64_t m1,
               int64_t tile, float* y, int64_t ldy, float alpha, float beta) {
  const int64_t kb = w.kb, kp = kb * 256, rows = m1 - m0;
  alignas(64) uint8_t panel[NT][kSteps * 64];
  alignas(64) float facc[kMaxRows][NT][16];
  std::memset(facc, 0, sizeof(float) * size_t(rows) * NT * 16);
  for (int64_t b = 0; b < kb; ++b) {
    T81_UNROLL for (int j = 0; j < NT; ++j)
      ExpandPanel(w.codes.data() + ((tile + j) * kb + b) * kTileBlockBytes, panel[j]);
    const float* d = w.scales.data() + (tile * kb + b) * kTileRows;
    const int64_t dstride = kb * kTileRows;
    const int8_t* xq = x.q.data() + m0 * kp + b * 256;
    const int32_t* bs = x.bsum.data() + m0 * kb + b;
    int64_t i = 0;
    for (; i + kMr <= rows; i += kMr)
      PanelMicro<kMr, NT>(panel[0], xq + i * kp, kp, bs + i * kb, kb, d, dstride, facc[i][0]);
    if (i < rows)
      PanelTail<NT, kMr - 1>(int(rows - i), panel[0], xq + i * kp, kp, bs + i * kb, kb, d, dstride,
                             facc[i][0]);
  }
  T81_UNROLL for (int j = 0; j < NT; ++j) {
    const __mmask16 mask = TileMask(w, tile + j);
    for (int64_t i = 0; i < rows; ++i)
      Store(_mm512_load_ps(facc[i][j]), alpha * x.scale[size_t(m0 + i)], beta,
            y + (m0 + i) * ldy + (tile + j) * kTileRows, mask);
  }
}

// Dequantizes half h (columns [128h, 128h + 128)) of one (tile, block) of W to
// panel[128][16] floats t ∈ {-1, 0, 1}.
inline void DequantHalfPanel(const PackedWeights& w, int64_t tile, int64_t b, int h, float* panel) {
  const uint8_t* wp = w.codes.data() + (tile * w.kb + b) * kTileBlockBytes;
  const __m512i mask3 = _mm512_set1_epi8(3);
  const __m512i ff = _mm512_set1_epi32(0xff);
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int c = 0; c < kChunksPerBlock / 2; ++c) {
    const __m512i p = _mm512_load_si512(wp + (c + 8 * h) * kChunkBytes);
    T81_UNROLL for (int s = 0; s < 4; ++s) {
      const __m512i u = _mm512_and_si512(_mm512_srli_epi16(p, 2 * s), mask3);
      T81_UNROLL for (int i = 0; i < 4; ++i) {
        const __m512i v = _mm512_and_si512(_mm512_srli_epi32(u, 8 * i), ff);
        _mm512_store_ps(panel + (c * 16 + s * 4 + i) * 16, _mm512_sub_ps(_mm512_cvtepi32_ps(v), one));
      }
    }
  }
}

// a += x · wv (one asm statement: see Dpbusd).
inline void Fma(__m512& a, __m512 wv, __m512 x) { asm("vfmadd231ps %2, %1, %0" : "+v"(a) : "v"(wv), "v"(x)); }

// MR rows of X against NT half-block panels, continuing the partial sums in s (MR, NT, 16):
// s[i][j] += Σ_k x[i][k] · panel_j[k], k ascending. 6 × 2 = 12 FMA chains in flight; per k
// 2 panel loads and 6 broadcasts feed 12 FMAs. (More rows of X per kernel would also put more
// rows at a 4 KiB stride into one L1 set.) Not inlined: inlined, GCC keeps the accumulators in the
// caller's s buffer instead of registers.
template <int MR, int NT>
__attribute__((noinline)) void MicroF32(const float* panel, const float* x, int64_t ldx, int64_t klen, float* s) {
  __m512 a[MR][NT];
  T81_UNROLL for (int i = 0; i < MR; ++i)
    T81_UNROLL for (int j = 0; j < NT; ++j) a[i][j] = _mm512_load_ps(s + (i * NT + j) * 16);
#pragma GCC unroll 1
  for (int64_t k = 0; k < klen; ++k) {
    __m512 wv[NT];
    T81_UNROLL for (int j = 0; j < NT; ++j) wv[j] = _mm512_load_ps(panel + (j * 128 + k) * 16);
    T81_UNROLL for (int i = 0; i < MR; ++i) {
      const __m512 xb = _mm512_set1_ps(x[i * ldx + k]);
      T81_UNROLL for (int j = 0; j < NT; ++j) Fma(a[i][j], wv[j], xb);
    }
  }
  T81_UNROLL for (int i = 0; i < MR; ++i)
    T81_UNROLL for (int j = 0; j < NT; ++j) _mm512_store_ps(s + (i * NT + j) * 16, a[i][j]);
}

template <int NT, int R>
inline void MicroF32Tail(int r, const float* panel, const float* x, int64_t ldx, int64_t klen, float* s) {
  if constexpr (R > 0) {
    if (r == R) return MicroF32<R, NT>(panel, x, ldx, klen, s);
    MicroF32Tail<NT, R - 1>(r, panel, x, ldx, klen, s);
  }
}

// Rows [m0, m1) (≤ 64) × tiles [tile, tile + NT).
template <int NT>
void F32Rows(const PackedWeights& w, const float* x, int64_t ldx, int64_t m0, int64_t m1, int64_t tile,
             float* y, int64_t ldy, float alpha, float beta) {
  constexpr int kMr = 6;
  const int64_t rows = m1 - m0;
  alignas(64) float panel[NT][128 * 16];
  alignas(64) float facc[64][NT][16];  // across blocks: acc = fma(s_b, d_b, acc)
  alignas(64) float sb[64][NT][16];    // within a block: s_b
  std::memset(facc, 0, sizeof(facc));
  for (int64_t b = 0; b < w.kb; ++b) {
    std::memset(sb, 0, sizeof(float) * size_t(rows) * NT * 16);
    for (int h = 0; h < 2; ++h) {
      const int64_t k0 = b * 256 + h * 128, klen = std::min<int64_t>(128, w.k - k0);
      if (klen <= 0) break;
      T81_UNROLL for (int j = 0; j < NT; ++j) DequantHalfPanel(w, tile + j, b, h, panel[j]);
      for (int64_t i = 0; i < rows; i += kMr) {
        const float* xr = x + (m0 + i) * ldx + k0;
        const int64_t mr = std::min<int64_t>(kMr, rows - i);
        if (mr == kMr) MicroF32<kMr, NT>(panel[0], xr, ldx, klen, sb[i][0]);
        else MicroF32Tail<NT, kMr - 1>(int(mr), panel[0], xr, ldx, klen, sb[i][0]);
      }
    }
    T81_UNROLL for (int j = 0; j < NT; ++j) {
      const __m512 d = _mm512_load_ps(w.scales.data() + ((tile + j) * w.kb + b) * kTileRows);
      for (int64_t i = 0; i < rows; ++i)
        _mm512_store_ps(facc[i][j], _mm512_fmadd_ps(_mm512_load_ps(sb[i][j]), d, _mm512_load_ps(facc[i][j])));
    }
  }
  T81_UNROLL for (int j = 0; j < NT; ++j) {
    const __mmask16 mask = TileMask(w, tile + j);
    for (int64_t i = 0; i < rows; ++i)
      Store(_mm512_load_ps(facc[i][j]), alpha, beta, y + (m0 + i) * ldy + (tile + j) * kTileRows, mask);
  }
}

}  // namespace

void QuantizeRow(const float* x, int64_t k, int64_t kp, int8_t* q, float* scale, int32_t* bsum) {
  // absmax: four independent maxima over whole vectors, then the masked tail.
  __m512 m0 = _mm512_setzero_ps(), m1 = m0, m2 = m0, m3 = m0;
  int64_t j = 0;
  for (; j + 64 <= k; j += 64) {  // NaN: max(NaN, m) keeps m, as in the reference
    m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + j)), m0);
    m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + j + 16)), m1);
    m2 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + j + 32)), m2);
    m3 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + j + 48)), m3);
  }
  for (; j < k; j += 16) {
    const __mmask16 m = k - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (k - j)) - 1);
    m0 = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + j)), m0);
  }
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
  const float inv = amax == 0.0f ? 0.0f : 127.0f / amax;
  *scale = amax / 127.0f;
  const __m512 vinv = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  // q = round_half_even(clamp(x · inv)) (CVTPS2DQ, default MXCSR); 64 values per step, packed to
  // bytes with saturating packs (no-ops: |q| ≤ 127) and one lane permutation.
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  auto quant16 = [&](__mmask16 m, const float* p) {
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p), vinv);
    return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, lo), hi));
  };
  for (int64_t b = 0; b < kp / 256; ++b) {
    __m512i sum = _mm512_setzero_si512();
    for (int64_t c = b * 256; c < (b + 1) * 256; c += 64) {
      __m512i v[4];
      for (int u = 0; u < 4; ++u) {
        const int64_t left = k - (c + 16 * u);
        const __mmask16 m = left >= 16 ? __mmask16(0xffff) : left <= 0 ? 0 : __mmask16((1u << left) - 1);
        v[u] = quant16(m, x + c + 16 * u);
      }
      sum = _mm512_add_epi32(sum, _mm512_add_epi32(_mm512_add_epi32(v[0], v[1]), _mm512_add_epi32(v[2], v[3])));
      // packs work per 128-bit lane: lane l of the result holds dwords l of v0, v1, v2, v3.
      const __m512i w = _mm512_packs_epi16(_mm512_packs_epi32(v[0], v[1]), _mm512_packs_epi32(v[2], v[3]));
      _mm512_storeu_si512(q + c, _mm512_permutexvar_epi32(order, w));
    }
    bsum[b] = _mm512_reduce_add_epi32(sum);
  }
}

void GemmI8Range(const PackedWeights& w, const QuantizedActs& x, int64_t m0, int64_t m1,
                 int64_t t0, int64_t t1, float* y, int64_t ldy, float alpha, float beta) {
  int64_t t = t0;
  if (m1 - m0 <= 2) {  // decode / GEMV: 4 tiles share each activation broadcast
    for (; t + 4 <= t1; t += 4)
      for (int64_t i = m0; i < m1; ++i) MicroI8Masked<1, 4>(w, x, i, t, y, ldy, alpha, beta);
    for (; t + 2 <= t1; t += 2)
      for (int64_t i = m0; i < m1; ++i) MicroI8Masked<1, 2>(w, x, i, t, y, ldy, alpha, beta);
    for (; t < t1; ++t)
      for (int64_t i = m0; i < m1; ++i) MicroI8Masked<1, 1>(w, x, i, t, y, ldy, alpha, beta);
    return;
  }
  for (int64_t r0 = m0; r0 < m1; r0 += kMaxRows) {
    const int64_t r1 = std::min(m1, r0 + kMaxRows);
    int64_t tt = t;
    for (; tt + 4 <= t1; tt += 4) PanelRows<4, 6>(w, x, r0, r1, tt, y, ldy, alpha, beta);
    switch (t1 - tt) {
      case 3: PanelRows<3, 8>(w, x, r0, r1, tt, y, ldy, alpha, beta); break;
      case 2: PanelRows<2, 8>(w, x, r0, r1, tt, y, ldy, alpha, beta); break;
      case 1: PanelRows<1, 8>(w, x, r0, r1, tt, y, ldy, alpha, beta); break;
      default: break;
    }
  }
}

void GemmF32Range(const PackedWeights& w, const float* x, int64_t ldx, int64_t m0, int64_t m1,
                  int64_t t0, int64_t t1, float* y, int64_t ldy, float alpha, float beta) {
  for (int64_t r0 = m0; r0 < m1; r0 += 64) {
    const int64_t r1 = std::min(m1, r0 + 64);
    int64_t t = t0;
    for (; t + 2 <= t1; t += 2) F32Rows<2>(w, x, ldx, r0, r1, t, y, ldy, alpha, beta);
    if (t < t1) F32Rows<1>(w, x, ldx, r0, r1, t, y, ldy, alpha, beta);
  }
}

namespace {

// 8-bit weights, one row of X against NT tiles. VPDPBUSD wants unsigned × signed: the activation
// broadcast is made unsigned (q + 128, by XOR 0x80) and 128 · Σw is taken off per block.
template <int NT>
void MicroQ8(const Q8Weights& w, const Q8Acts& x, int64_t i, int64_t tile, float* y) {
  __m512 facc[NT];
  T81_UNROLL for (int j = 0; j < NT; ++j) facc[j] = _mm512_setzero_ps();
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  for (int64_t b = 0; b < w.kb; ++b) {
    __m512i acc[NT];
    T81_UNROLL for (int j = 0; j < NT; ++j) acc[j] = _mm512_setzero_si512();
    const int8_t* q = x.q.data() + i * x.k + b * 32;
    const int8_t* wp = w.codes.data() + (tile * w.kb + b) * 512;
    T81_UNROLL for (int s = 0; s < 8; ++s) {
      const __m512i xb = _mm512_xor_si512(Bcast4(q + 4 * s), flip);
      T81_UNROLL for (int j = 0; j < NT; ++j)
        Dpbusd(acc[j], xb, _mm512_load_si512(wp + j * w.kb * 512 + s * 64));
    }
    const __m512 dx = _mm512_set1_ps(x.d[size_t(i * x.kb + b)]);
    T81_UNROLL for (int j = 0; j < NT; ++j) {
      const size_t tb = size_t(((tile + j) * w.kb + b) * kTileRows);
      const __m512i ws = _mm512_slli_epi32(_mm512_load_si512(w.wsum.data() + tb), 7);
      const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[j], ws));
      facc[j] = _mm512_fmadd_ps(v, _mm512_mul_ps(_mm512_load_ps(w.scales.data() + tb), dx), facc[j]);
    }
  }
  T81_UNROLL for (int j = 0; j < NT; ++j)
    _mm512_mask_storeu_ps(y + (tile + j) * kTileRows, TileMask(w.n, tile + j), facc[j]);
}

// fp16 weights: one row of X against NT tiles, one FMA chain per tile (8 chains cover the FMA
// latency on two ports).
template <HalfType T>
inline __m512 Load16(const uint16_t* p) {  // 16 halves to floats
  const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
  if constexpr (T == HalfType::kF16) return _mm512_cvtph_ps(v);
  else return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}

template <HalfType T, int NT>
void MicroHalf(const HalfWeights& w, const float* x, int64_t tile, float* y) {
  __m512 acc[NT];
  T81_UNROLL for (int j = 0; j < NT; ++j) acc[j] = _mm512_setzero_ps();
  const uint16_t* h = w.h.data() + tile * w.k * kTileRows;
  for (int64_t k = 0; k < w.k; ++k) {
    const __m512 xv = _mm512_set1_ps(x[k]);
    T81_UNROLL for (int j = 0; j < NT; ++j) {
      const __m512 wv = Load16<T>(h + (j * w.k + k) * kTileRows);
      acc[j] = _mm512_fmadd_ps(xv, wv, acc[j]);
    }
  }
  T81_UNROLL for (int j = 0; j < NT; ++j) _mm512_mask_storeu_ps(y + (tile + j) * kTileRows, TileMask(w.n, tile + j), acc[j]);
}

}  // namespace

template <HalfType T>
void HalfRows(const HalfWeights& w, const float* x, int64_t ldx, int64_t m0, int64_t m1, int64_t t0, int64_t t1,
              float* y, int64_t ldy) {
  for (int64_t i = m0; i < m1; ++i) {
    int64_t t = t0;
    for (; t + 8 <= t1; t += 8) MicroHalf<T, 8>(w, x + i * ldx, t, y + i * ldy);
    for (; t < t1; ++t) MicroHalf<T, 1>(w, x + i * ldx, t, y + i * ldy);
  }
}

void GemmHalfRange(const HalfWeights& w, const float* x, int64_t ldx, int64_t m0, int64_t m1, int64_t t0,
                   int64_t t1, float* y, int64_t ldy) {
  if (w.type == HalfType::kF16) HalfRows<HalfType::kF16>(w, x, ldx, m0, m1, t0, t1, y, ldy);
  else HalfRows<HalfType::kBF16>(w, x, ldx, m0, m1, t0, t1, y, ldy);
}

void GemmQ8Range(const Q8Weights& w, const Q8Acts& x, int64_t m0, int64_t m1, int64_t t0, int64_t t1,
                 float* y, int64_t ldy) {
  for (int64_t i = m0; i < m1; ++i) {
    int64_t t = t0;
    for (; t + 4 <= t1; t += 4) MicroQ8<4>(w, x, i, t, y + i * ldy);
    for (; t < t1; ++t) MicroQ8<1>(w, x, i, t, y + i * ldy);
  }
}

namespace {
// The 16 lanes of a reduced by the tree (l, l+8), (l, l+4), (l, l+2), (0, 1).
inline float Tree16(__m512 a) {
  alignas(64) float v[16];
  _mm512_store_ps(v, a);
  for (int width = 8; width >= 1; width /= 2)
    for (int l = 0; l < width; ++l) v[l] = v[l] + v[l + width];
  return v[0];
}

// R rows at once (independent FMA chains), one zmm accumulator each.
template <int R>
inline void GemvRows(const float* w, int64_t k, const float* x, int64_t r, float* y) {
  __m512 acc[R];
  T81_UNROLL for (int i = 0; i < R; ++i) acc[i] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 16 <= k; c += 16) {
    const __m512 xv = _mm512_loadu_ps(x + c);
    T81_UNROLL for (int i = 0; i < R; ++i) acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(w + (r + i) * k + c), xv, acc[i]);
  }
  if (c < k) {
    const __mmask16 m = __mmask16((1u << (k - c)) - 1);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + c);
    T81_UNROLL for (int i = 0; i < R; ++i)
      acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + (r + i) * k + c), xv, acc[i]);
  }
  T81_UNROLL for (int i = 0; i < R; ++i) y[r + i] = Tree16(acc[i]);
}
}  // namespace

void GemvF32Range(const float* w, int64_t k, const float* x, int64_t r0, int64_t r1, float* y) {
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) GemvRows<4>(w, k, x, r, y);
  for (; r < r1; ++r) GemvRows<1>(w, k, x, r, y);
}

const KernelTable kTable{Isa::kAvx512, GemmF32Range, GemmI8Range, QuantizeRow, GemmQ8Range, GemmHalfRange, GemvF32Range, T81_FLOAT_OPS_ENTRIES};

}  // namespace t81::kernels::avx512
