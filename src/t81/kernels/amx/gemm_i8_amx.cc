// GemmI8 on Intel AMX (kernels.h, the i8 path): packed ternary weights times int8 activations on
// the tile unit, bit-identical to the reference (gemm_ref.cc: GemmI8Range).
//
// Σ (t+1)·q − bsum over a block is Σ t·q exactly, so TDPBSSD takes the trits as signed bytes and
// the activation rows as they are (QuantizedActs.q, row stride kb·256): one 16 × 64 A tile is 16
// rows × 64 columns of q. The B tile of 64 columns is 16 k-quads × 16 output rows × 4 bytes, and
// the compute layout already holds exactly that: shift s of chunk c is k-quad 4c + s of its 16
// rows (kernels.h). Each thread expands its group of 8 weight tiles (128 outputs) into int8 B
// tiles once, then for every 32-row block of X computes 32 × 32 outputs with four int32
// accumulator tiles (tmm0-3), two A tiles (tmm4-5) and two B tiles (tmm6-7). After each 256-block
// the tiles are stored and folded into float sums as the reference does, acc = fma(float(isum),
// d, acc), blocks ascending; the last step is r = acc · (alpha · scale), y = r or fma(beta, y, r).
// Every output is computed by one thread in this fixed order: the result does not depend on the
// thread count.
// This file alone is compiled with -mamx-tile -mamx-int8 (cmake/T81Isa.cmake).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "t81/base/aligned.h"
#include "t81/kernels/amx/tiles.h"
#include "t81/kernels/isa_tables.h"

namespace t81::kernels::amx {
namespace {

constexpr int64_t kRows = 32;         // rows of X per block (two A tiles)
constexpr int64_t kGroupTiles = 8;    // weight tiles (16 outputs each) a thread expands at once
constexpr int64_t kStepBytes = 1024;  // one B tile: 16 k-quads × 64 bytes
constexpr int64_t kStepsPerBlock = quant::kBlock / 64;

// B tiles of weight tiles [t0, t0 + count) into bq: tile (j, b, s) at ((j·kb + b)·4 + s)·1 KiB, its
// row r = 4(c mod 4) + sh for chunk c = 4s + r / 4 and shift sh = r mod 4, byte 4·o + i the trit
// of output 16·(t0 + j) + o, column 256·b + 64·s + 4·r + i. Tiles past the matrix are zero.
void ExpandTiles(const PackedWeights& w, int64_t t0, int64_t count, int8_t* bq) {
  const __m512i three = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
  for (int64_t j = 0; j < count; ++j) {
    int8_t* dst = bq + j * w.kb * kStepsPerBlock * kStepBytes;
    if (t0 + j >= w.tiles) {
      std::memset(dst, 0, size_t(w.kb * kStepsPerBlock * kStepBytes));
      continue;
    }
    const uint8_t* src = w.codes.data() + (t0 + j) * w.kb * kTileBlockBytes;
    // Chunk c of a block goes to step c / 4, rows 4(c mod 4) .. + 3: the steps of a block are its
    // 16 chunks in order, each expanded to 4 rows.
    for (int64_t c = 0; c < w.kb * kChunksPerBlock; ++c) {
      const __m512i chunk = _mm512_load_si512(src + c * kChunkBytes);
      int8_t* rows = dst + c * 4 * 64;
      for (int sh = 0; sh < 4; ++sh) {
        const __m512i u = _mm512_and_si512(_mm512_srli_epi16(chunk, 2 * sh), three);
        _mm512_store_si512(rows + sh * 64, _mm512_sub_epi8(u, one));
      }
    }
  }
}

}  // namespace

void GemmI8(const PackedWeights& w, const QuantizedActs& x, float* y, int64_t ldy, float alpha, float beta) {
  const int64_t kp = x.kb * quant::kBlock, kb = w.kb;
  const int64_t mblocks = (x.m + kRows - 1) / kRows, groups = (w.tiles + kGroupTiles - 1) / kGroupTiles;
  const int64_t items = mblocks * groups;
  if (items == 0) return;
  const int threads = int(std::min<int64_t>(omp_get_max_threads(), items));
#pragma omp parallel num_threads(threads)
  {
    thread_local base::AlignedVector<int8_t> bq, apad;
    thread_local base::AlignedVector<int32_t> isum;
    thread_local base::AlignedVector<float> acc;
    bq.resize(size_t(kGroupTiles * kb * kStepsPerBlock * kStepBytes));
    isum.resize(size_t(kRows * 32));
    acc.resize(size_t(kRows * 32));
    ConfigureTiles16x64();
    // Items group-major, a contiguous run of them per thread: a thread expands each group of
    // weight tiles once and keeps it (128 outputs × K bytes) in L2.
    const int nt = omp_get_num_threads(), me = omp_get_thread_num();
    const int64_t it0 = items * me / nt, it1 = items * (me + 1) / nt;
    int64_t expanded = -1;
    for (int64_t it = it0; it < it1; ++it) {
      const int64_t g = it / mblocks, mb = it % mblocks;
      const int64_t t0 = g * kGroupTiles, ntiles = std::min(kGroupTiles, w.tiles - t0);
      if (g != expanded) {
        ExpandTiles(w, t0, (ntiles + 1) / 2 * 2, bq.data());
        expanded = g;
      }
      const int64_t i0 = mb * kRows, rows = std::min(kRows, x.m - i0);
      const int8_t* a = x.q.data() + i0 * kp;
      if (rows < kRows) {  // the last, partial block: its rows copied into zero-padded 32 rows
        apad.assign(size_t(kRows * kp), 0);
        std::memcpy(apad.data(), a, size_t(rows * kp));
        a = apad.data();
      }
      for (int64_t p = 0; p < ntiles; p += 2) {  // a pair of weight tiles: 32 outputs
        const int8_t* b0 = bq.data() + p * kb * kStepsPerBlock * kStepBytes;
        const int8_t* b1 = b0 + kb * kStepsPerBlock * kStepBytes;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t b = 0; b < kb; ++b) {
          _tile_zero(0);
          _tile_zero(1);
          _tile_zero(2);
          _tile_zero(3);
          for (int64_t s = 0; s < kStepsPerBlock; ++s) {
            const int64_t k0 = b * quant::kBlock + s * 64, step = (b * kStepsPerBlock + s) * kStepBytes;
            _tile_loadd(4, a + k0, kp);
            _tile_loadd(5, a + 16 * kp + k0, kp);
            _tile_loadd(6, b0 + step, 64);
            _tile_loadd(7, b1 + step, 64);
            _tile_dpbssd(0, 4, 6);
            _tile_dpbssd(1, 4, 7);
            _tile_dpbssd(2, 5, 6);
            _tile_dpbssd(3, 5, 7);
          }
          int32_t* s32 = isum.data();
          _tile_stored(0, s32, 32 * 4);
          _tile_stored(1, s32 + 16, 32 * 4);
          _tile_stored(2, s32 + 16 * 32, 32 * 4);
          _tile_stored(3, s32 + 16 * 32 + 16, 32 * 4);
          // The block's scales of the pair's 32 outputs (a tile past the matrix: any finite value).
          const int64_t tp0 = t0 + p, tp1 = std::min(t0 + p + 1, w.tiles - 1);
          const __m512 d0 = _mm512_loadu_ps(w.scales.data() + (tp0 * kb + b) * kTileRows);
          const __m512 d1 = _mm512_loadu_ps(w.scales.data() + (tp1 * kb + b) * kTileRows);
          float* f = acc.data();
          for (int64_t r = 0; r < kRows; ++r) {
            const __m512 s0 = _mm512_cvtepi32_ps(_mm512_load_si512(s32 + r * 32));
            const __m512 s1 = _mm512_cvtepi32_ps(_mm512_load_si512(s32 + r * 32 + 16));
            _mm512_store_ps(f + r * 32, _mm512_fmadd_ps(s0, d0, _mm512_load_ps(f + r * 32)));
            _mm512_store_ps(f + r * 32 + 16, _mm512_fmadd_ps(s1, d1, _mm512_load_ps(f + r * 32 + 16)));
          }
        }
        // r = acc · (alpha · scale_m); y = beta == 0 ? r : fma(beta, y, r); valid outputs only.
        const int64_t o0 = (t0 + p) * kTileRows;
        const int64_t valid = std::clamp<int64_t>(w.n - o0, 0, 32);
        const __mmask16 m0 = __mmask16(valid >= 16 ? 0xFFFF : (1u << valid) - 1);
        const __mmask16 m1 = __mmask16(valid >= 32 ? 0xFFFF : valid > 16 ? (1u << (valid - 16)) - 1 : 0);
        for (int64_t r = 0; r < rows; ++r) {
          const __m512 as = _mm512_set1_ps(alpha * x.scale[size_t(i0 + r)]);
          float* yr = y + (i0 + r) * ldy + o0;
          __m512 r0 = _mm512_mul_ps(_mm512_load_ps(acc.data() + r * 32), as);
          __m512 r1 = _mm512_mul_ps(_mm512_load_ps(acc.data() + r * 32 + 16), as);
          if (beta != 0.0f) {
            const __m512 bv = _mm512_set1_ps(beta);
            r0 = _mm512_fmadd_ps(bv, _mm512_maskz_loadu_ps(m0, yr), r0);
            r1 = _mm512_fmadd_ps(bv, _mm512_maskz_loadu_ps(m1, yr + 16), r1);
          }
          _mm512_mask_storeu_ps(yr, m0, r0);
          _mm512_mask_storeu_ps(yr + 16, m1, r1);
        }
      }
    }
    _tile_release();
  }
}

}  // namespace t81::kernels::amx
