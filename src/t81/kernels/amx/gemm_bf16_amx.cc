// GemmBf16 on Intel AMX (kernels.h): float GEMM whose products are taken in bf16 by the tile unit.
//
// Both operands are rounded to bf16 (nearest even) while packed, once per call, into tile-major
// buffers (PackA / PackB below; sizes padded to multiples of 32). C is computed in 32 × 32 blocks,
// four 16 × 16 f32 accumulator tiles each (tmm0-3: C itself is loaded when beta is 1 and the block
// is whole), with two A tiles (tmm4-5, 16 rows × 32 k) and two B tiles (tmm6-7, 16 k-pairs × 16
// columns) per 32 k. One thread owns each 32-row block, in the same order whatever the thread
// count, so the result does not depend on it. With an epilogue (kernels.h: GemmEpilogue) a thread
// finishes its row blocks one at a time and applies it to each while the rows are in L2.
// This file alone is compiled with -mamx-tile -mamx-bf16 -mavx512bf16 (cmake/T81Isa.cmake).
#include <immintrin.h>
#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "t81/base/aligned.h"
#include "t81/kernels/amx/tiles.h"
#include "t81/kernels/kernels.h"

namespace t81::kernels::amx {
namespace {

constexpr int64_t kBlock = 32;  // C block side; also the k step (32 bf16 = one 64-byte tile row)

int64_t RoundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// 16 floats → 16 bf16, nearest even (VCVTNEPS2BF16).
inline __m256i Bf16x16(__m512 v) { return (__m256i)_mm512_cvtneps_pbh(v); }

// Packed operands are tile-major: 1 KiB tiles of 16 rows × 64 bytes, stored one after another,
// so every tile load reads 1 KiB of consecutive memory.
//   Ap: tile (ti, tk) = op(A) rows 16·ti.., k 32·tk.. (16 × 32 bf16), at (ti·KT + tk)·512.
//   Bp: tile (tj, tk) = k-pairs 16·tk.. × columns 16·tj.. (16 × 16 × 2 bf16), at (tj·KT + tk)·512,
//       its row r holding [k 2r, k 2r + 1] of each column (32·tk + 2r within the tile's k).
// KT = kp / 32. Padding (rows ≥ M, columns ≥ N, k ≥ K) is zero.
constexpr int64_t kTileElems = 512;  // bf16 per tile

// The word permutation that interleaves the two halves of a vector: out 2n = in n, out 2n+1 = in
// 16 + n. After cvtne2ps(r1, r0) (r0 in the low half) that gives [r0 n, r1 n] pairs.
inline __m512i InterleaveHalves() {
  return _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4,
                          19, 3, 18, 2, 17, 1, 16, 0);
}
// The 16 bf16 pairs [x(k, c), x(k + 1, c)] for columns c = c0 .. c0 + 15 of a row-major x (ld):
// zero past the n valid columns and past row K − 1.
inline __m512i RowPairs(const float* x, int64_t ld, int64_t k, int64_t K, int64_t c0, int64_t n) {
  const __mmask16 m = __mmask16(n >= 16 ? 0xFFFF : (1u << n) - 1);
  const __m512 r0 = k < K && n > 0 ? _mm512_maskz_loadu_ps(m, x + k * ld + c0) : _mm512_setzero_ps();
  const __m512 r1 = k + 1 < K && n > 0 ? _mm512_maskz_loadu_ps(m, x + (k + 1) * ld + c0) : _mm512_setzero_ps();
  return _mm512_permutexvar_epi16(InterleaveHalves(), (__m512i)_mm512_cvtne2ps_pbh(r1, r0));
}
// In-place transpose of a 16 × 16 matrix of 32-bit words, one row a vector: r[i] lane j ↔ r[j] lane i.
// Words within 128-bit lanes by unpacking (4 × 4 blocks), then the 128-bit lanes as a 4 × 4 matrix.
inline void Transpose16x16(__m512i r[16]) {
  __m512i t[16];
  for (int g = 0; g < 4; ++g) {  // rows 4g .. 4g + 3
    const __m512i lo01 = _mm512_unpacklo_epi32(r[4 * g], r[4 * g + 1]), hi01 = _mm512_unpackhi_epi32(r[4 * g], r[4 * g + 1]);
    const __m512i lo23 = _mm512_unpacklo_epi32(r[4 * g + 2], r[4 * g + 3]),
                  hi23 = _mm512_unpackhi_epi32(r[4 * g + 2], r[4 * g + 3]);
    // t[4g + c], 128-bit lane L: rows 4g .. 4g + 3 of column 4L + c
    t[4 * g] = _mm512_unpacklo_epi64(lo01, lo23);
    t[4 * g + 1] = _mm512_unpackhi_epi64(lo01, lo23);
    t[4 * g + 2] = _mm512_unpacklo_epi64(hi01, hi23);
    t[4 * g + 3] = _mm512_unpackhi_epi64(hi01, hi23);
  }
  for (int c = 0; c < 4; ++c) {  // column 4L + c gathers lane L of t[c], t[4 + c], t[8 + c], t[12 + c]
    const __m512i a_lo = _mm512_shuffle_i32x4(t[c], t[4 + c], 0x44), a_hi = _mm512_shuffle_i32x4(t[c], t[4 + c], 0xEE);
    const __m512i b_lo = _mm512_shuffle_i32x4(t[8 + c], t[12 + c], 0x44),
                  b_hi = _mm512_shuffle_i32x4(t[8 + c], t[12 + c], 0xEE);
    r[c] = _mm512_shuffle_i32x4(a_lo, b_lo, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(a_lo, b_lo, 0xDD);
    r[8 + c] = _mm512_shuffle_i32x4(a_hi, b_hi, 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(a_hi, b_hi, 0xDD);
  }
}

// 16 vectors of 16 words → the 16 rows of one tile (64 bytes each), after a transpose.
inline void StoreTransposed(uint16_t* tile, __m512i r[16]) {
  Transpose16x16(r);
  for (int i = 0; i < 16; ++i) _mm512_storeu_si512(tile + i * 32, r[i]);
}

// Ap's work unit u: its row tile u when op(A) = A, its k step u when op(A) = Aᵀ (units: PackAUnits).
int64_t PackAUnits(bool trans, int64_t mp, int64_t kp) { return trans ? kp / 32 : mp / 16; }
void PackA(uint16_t* ap, int64_t mp, int64_t kp, bool trans, const float* a, int64_t lda, int64_t M, int64_t K,
           int64_t u) {
  const int64_t KT = kp / 32;
  if (!trans) {
    for (int64_t i = u * 16; i < u * 16 + 16; ++i) {
      uint16_t* row = ap + (i / 16) * KT * kTileElems + (i % 16) * 32;
      const float* src = a + std::min(i, M - 1) * lda;  // rows past M read nothing (mask 0)
      for (int64_t tk = 0; tk < KT; ++tk) {
        uint16_t* dst = row + tk * kTileElems;
        for (int64_t h = 0; h < 2; ++h) {
          const int64_t k = tk * 32 + h * 16, n = i < M ? std::clamp<int64_t>(K - k, 0, 16) : 0;
          const __mmask16 m = __mmask16(n == 16 ? 0xFFFF : (1u << n) - 1);
          _mm256_storeu_si256((__m256i*)(dst + h * 16), Bf16x16(_mm512_maskz_loadu_ps(m, src + (n > 0 ? k : 0))));
        }
      }
    }
    return;
  }
  // op(A)(i, k) = a[k·lda + i]. The 32 rows k of step u are read across all row tiles (each row
  // a forward stream); per tile the 16 [k, k + 1] pair vectors (lanes i) are transposed to its rows.
  const int64_t tk = u;
  for (int64_t ti = 0; ti < mp / 16; ++ti) {
    const int64_t i0 = ti * 16, n = std::clamp<int64_t>(M - i0, 0, 16);
    __m512i r[16];
    for (int64_t p = 0; p < 16; ++p) r[p] = RowPairs(a, lda, tk * 32 + 2 * p, K, i0, n);
    StoreTransposed(ap + (ti * KT + tk) * kTileElems, r);
  }
}

// Bp's work unit u: its k step u when op(B) = B, its column tile u when op(B) = Bᵀ.
int64_t PackBUnits(bool trans, int64_t np, int64_t kp) { return trans ? np / 16 : kp / 32; }
void PackB(uint16_t* bp, int64_t np, int64_t kp, bool trans, const float* b, int64_t ldb, int64_t K, int64_t N,
           int64_t u) {
  const int64_t KT = kp / 32;
  if (!trans) {
    // Tile row r of step u: the pairs of rows k = 32u + 2r, k + 1 across the tile's 16 columns; the
    // two rows are read across all column tiles.
    for (int64_t k = u * 32; k < u * 32 + 32; k += 2)
      for (int64_t tj = 0; tj < np / 16; ++tj) {
        const int64_t n0 = tj * 16, n = std::clamp<int64_t>(N - n0, 0, 16);
        _mm512_storeu_si512(bp + (tj * KT + u) * kTileElems + (k % 32) / 2 * 32, RowPairs(b, ldb, k, K, n0, n));
      }
    return;
  }
  // op(B)(k, n) = b[n·ldb + k]: 32 consecutive k of row n are the 16 pairs of one tile column, so
  // the tile is the transpose of its 16 columns' pair vectors.
  const int64_t tj = u;
  for (int64_t tk = 0; tk < KT; ++tk) {
    const int64_t k = tk * 32;
    __m512i r[16];
    for (int64_t c = 0; c < 16; ++c) {
      const int64_t n = tj * 16 + c, nk = n < N ? std::clamp<int64_t>(K - k, 0, 32) : 0;
      const int64_t lo = std::min<int64_t>(nk, 16), hi = std::max<int64_t>(nk - 16, 0);
      const __mmask16 mlo = __mmask16((1u << lo) - 1), mhi = __mmask16((1u << hi) - 1);
      const float* src = b + std::min(n, N - 1) * ldb + (nk > 0 ? k : 0);  // columns past N read nothing
      const __m512 v0 = _mm512_maskz_loadu_ps(mlo, src), v1 = _mm512_maskz_loadu_ps(mhi, src + 16);
      r[c] = (__m512i)_mm512_cvtne2ps_pbh(v1, v0);  // word j = k + j: pair p in 32-bit word p
    }
    StoreTransposed(bp + (tj * KT + tk) * kTileElems, r);
  }
}

bool RequestTileState() {
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

}  // namespace

bool OsGrantsTiles() {
  static const bool ok = RequestTileState();
  return ok;
}

void GemmBf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const float* bias,
              const GemmEpilogue* post) {
  const int64_t mp = RoundUp(M, kBlock), np = RoundUp(N, kBlock), kp = RoundUp(K, kBlock), KT = kp / 32;
  thread_local base::AlignedVector<uint16_t> ap, bp;
  if (int64_t(ap.size()) < mp * kp) ap.resize(size_t(mp * kp));
  if (int64_t(bp.size()) < kp * np) bp.resize(size_t(kp * np));
  uint16_t* A = ap.data();
  uint16_t* B = bp.data();
  const int64_t mblocks = mp / kBlock, nblocks = np / kBlock;
  const bool direct_beta = beta == 0.0f || beta == 1.0f;  // C itself can be the accumulator
#pragma omp parallel
  {
#pragma omp for schedule(static) nowait
    for (int64_t u = 0; u < PackAUnits(trans_a, mp, kp); ++u) PackA(A, mp, kp, trans_a, a, lda, M, K, u);
#pragma omp for schedule(static)
    for (int64_t u = 0; u < PackBUnits(trans_b, np, kp); ++u) PackB(B, np, kp, trans_b, b, ldb, K, N, u);
    ConfigureTiles16x64();
    alignas(64) float out[kBlock * kBlock];
    // This thread's 32-row blocks.
    const int nt = omp_get_num_threads(), me = omp_get_thread_num();
    const int64_t ib0 = mblocks * me / nt, ib1 = mblocks * (me + 1) / nt;
    // Block (ib, jb) of C: 32 × 32, K in 32-steps.
    auto block = [&](int64_t ib, int64_t jb) {
      const int64_t j0 = jb * kBlock, cols = std::min(kBlock, N - j0);
      const uint16_t* b0 = B + (2 * jb) * KT * kTileElems;
      const uint16_t* b1 = b0 + KT * kTileElems;
      const int64_t i0 = ib * kBlock, rows = std::min(kBlock, M - i0);
      const uint16_t* a0 = A + (2 * ib) * KT * kTileElems;
      const uint16_t* a1 = a0 + KT * kTileElems;
      float* cb = c + i0 * ldc + j0;
      const bool direct = direct_beta && rows == kBlock && cols == kBlock;
      if (direct && beta == 1.0f) {
        _tile_loadd(0, cb, ldc * 4);
        _tile_loadd(1, cb + 16, ldc * 4);
        _tile_loadd(2, cb + 16 * ldc, ldc * 4);
        _tile_loadd(3, cb + 16 * ldc + 16, ldc * 4);
      } else if (direct && bias) {  // stride 0: every tile row is the bias
        _tile_loadd(0, bias + j0, 0);
        _tile_loadd(1, bias + j0 + 16, 0);
        _tile_loadd(2, bias + j0, 0);
        _tile_loadd(3, bias + j0 + 16, 0);
      } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
      }
      for (int64_t tk = 0; tk < KT; ++tk) {
        _tile_loadd(4, a0 + tk * kTileElems, 64);
        _tile_loadd(5, a1 + tk * kTileElems, 64);
        _tile_loadd(6, b0 + tk * kTileElems, 64);
        _tile_loadd(7, b1 + tk * kTileElems, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
      if (direct) {
        _tile_stored(0, cb, ldc * 4);
        _tile_stored(1, cb + 16, ldc * 4);
        _tile_stored(2, cb + 16 * ldc, ldc * 4);
        _tile_stored(3, cb + 16 * ldc + 16, ldc * 4);
        return;
      }
      _tile_stored(0, out, kBlock * 4);
      _tile_stored(1, out + 16, kBlock * 4);
      _tile_stored(2, out + 16 * kBlock, kBlock * 4);
      _tile_stored(3, out + 16 * kBlock + 16, kBlock * 4);
      for (int64_t r = 0; r < rows; ++r) {
        float* dst = cb + r * ldc;
        const float* src = out + r * kBlock;
        if (bias)
          for (int64_t j = 0; j < cols; ++j) dst[j] = src[j] + bias[j0 + j];
        else if (beta == 0.0f)
          std::memcpy(dst, src, size_t(cols) * 4);
        else
          for (int64_t j = 0; j < cols; ++j) dst[j] = beta * dst[j] + src[j];
      }
    };
    if (!post) {
      // Per 32-column panel of B (KT·2 KiB, kept in L1) every block of this thread.
      for (int64_t jb = 0; jb < nblocks; ++jb)
        for (int64_t ib = ib0; ib < ib1; ++ib) block(ib, jb);
    } else {
      // Row block by row block, so that each is whole (32 rows × N, in L2) for the epilogue.
      for (int64_t ib = ib0; ib < ib1; ++ib) {
        for (int64_t jb = 0; jb < nblocks; ++jb) block(ib, jb);
        post->Rows(c, ldc, ib * kBlock, std::min(M, ib * kBlock + kBlock), N);
      }
    }
    _tile_release();
  }
}

}  // namespace t81::kernels::amx
