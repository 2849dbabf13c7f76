// Packed ternary GEMM/GEMV with one kernel table chosen per process.
//
//   Y[M×N] = alpha · X[M×K] · Wᵀ + beta · Y        (beta == 0: Y is not read)
//
// W (N×K) comes from the quantizer as a quant::TernaryMatrix (TQ1_0 or TQ2_0 blocks: d · t) and is
// repacked once into the compute layout below. Two activation paths:
//   f32: X in float32.
//   i8:  X quantized per row to int8 by absmax (QuantizeActs), integer dot products per 256-block,
//        one float rescale per block and output (BitNet's a8, llama.cpp's Q8_K idea).
// The i8 path is bit-identical on every ISA: integer sums are exact and the float epilogue is the
// same sequence of IEEE operations everywhere (see docs/kernels.md). Results never depend on the
// thread count: every output element is computed by one thread in a fixed order.
//
// Compute layout (owned by the kernel table; ISA-independent):
//   rows in tiles of 16, K in blocks of 256, a block in 16 chunks of 16 columns, 64 bytes a chunk;
//   byte 4·r + i of chunk c holds, in bits [2s, 2s+1], u = t + 1 of
//   row 16·tile + r, column 256·b + 16·c + 4·s + i.
//   So (chunk >> 2s) & 3 is a vector of 16 rows × 4 consecutive columns: one VPDPBUSD against a
//   broadcast of 4 activation bytes.
//   codes: (tiles, kb, 16 chunks, 64 B); scales: (tiles, kb, 16 rows) float (the block's fp16 d).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "t81/base/aligned.h"
#include "t81/base/status.h"
#include "t81/quant/tq.h"

namespace t81::kernels {

// amx: the avx512 kernels plus the AMX tile unit (Intel Sapphire Rapids and later: AMX-INT8 for
// GemmI8 of 16 rows or more, AMX-BF16 for GemmBf16), where Linux grants the tile state.
enum class Isa : uint8_t { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAmx = 3 };
inline constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx};
const char* IsaName(Isa isa);
Result<Isa> ParseIsa(std::string_view s);
bool Supported(Isa isa);  // compiled in and the CPU/OS can run it

inline constexpr int kTileRows = 16;
inline constexpr int kChunkBytes = 64;
inline constexpr int kChunksPerBlock = 16;
inline constexpr int kTileBlockBytes = kChunkBytes * kChunksPerBlock;  // 1024

struct PackedWeights {
  int64_t n = 0, k = 0;      // W is (n, k)
  int64_t kb = 0, tiles = 0; // 256-blocks per row; 16-row tiles
  base::AlignedVector<uint8_t> codes;  // (tiles, kb, 16, 64)
  base::AlignedVector<float> scales;   // (tiles, kb, 16)
};

// Repack W into the compute layout (rows padded to 16 with t = 0, d = 0).
PackedWeights Repack(const quant::TernaryMatrix& w);
// The trit at (row, col) of the compute layout, and the scale of (row, block).
int8_t PackedTrit(const PackedWeights& w, int64_t row, int64_t col);
float PackedScale(const PackedWeights& w, int64_t row, int64_t block);
// unpack(repack(w)): trits (n, k) and block scales (n, kb).
void UnpackPacked(const PackedWeights& w, int8_t* trits, float* block_scales);

// X quantized per row: q = round_half_even(x · 127 / absmax), |q| ≤ 127, zero-padded to kb·256.
struct QuantizedActs {
  int64_t m = 0, k = 0, kb = 0;
  base::AlignedVector<int8_t> q;  // (m, kb·256)
  std::vector<float> scale;       // (m) absmax / 127
  std::vector<int32_t> bsum;      // (m, kb) sum of q over each 256-block
};
// One row: q (kp = kb·256 bytes, zero-padded), *scale, bsum (kb). Every ISA gives identical bytes
// (exact max, one IEEE multiply, clamp, round half to even). NaN inputs give unspecified q.
using QuantizeRowFn = void (*)(const float* x, int64_t k, int64_t kp, int8_t* q, float* scale,
                               int32_t* bsum);

// Range kernels: rows [m0, m1) of X, tiles [t0, t1) of W; single-threaded.
using GemmF32RangeFn = void (*)(const PackedWeights& w, const float* x, int64_t ldx, int64_t m0,
                                int64_t m1, int64_t t0, int64_t t1, float* y, int64_t ldy,
                                float alpha, float beta);
using GemmI8RangeFn = void (*)(const PackedWeights& w, const QuantizedActs& x, int64_t m0,
                               int64_t m1, int64_t t0, int64_t t1, float* y, int64_t ldy,
                               float alpha, float beta);

// 8-bit weights (heads and embeddings kept as GGUF Q8_0: int8 w, fp16 d per 32 values) in the
// same 16-row tiles: K in blocks of 32, a block in 8 steps of 64 bytes; byte 4·r + i of step s
// is w of row 16·tile + r, column 32·b + 4·s + i. Per (tile, block, row): d as float and
// wsum = Σ w over the block (for the unsigned-activation form of VPDPBUSD).
struct Q8Weights {
  int64_t n = 0, k = 0;       // W is (n, k), k a multiple of 32
  int64_t kb = 0, tiles = 0;  // 32-blocks per row; 16-row tiles
  base::AlignedVector<int8_t> codes;   // (tiles, kb, 8, 64)
  base::AlignedVector<float> scales;   // (tiles, kb, 16)
  base::AlignedVector<int32_t> wsum;   // (tiles, kb, 16)
};
// Loaders can drop their source rows as the repack goes: done(r0, r1) is called after rows
// [r0, r1) have been read, in order, in chunks of 1024 rows.
using RowsDoneFn = std::function<void(int64_t r0, int64_t r1)>;
// From GGUF Q8_0 rows (n rows of k / 32 blocks of 34 bytes); padding rows are 0.
Q8Weights RepackQ8_0(const uint8_t* q8_0, int64_t n, int64_t k, const RowsDoneFn& done = nullptr);
// Activations for Q8Weights, quantized per 32-block as Q8_0 does but with a float d:
// d = absmax / 127, q = round_half_even(x / d) (via x · (127 / absmax)), |q| ≤ 127.
struct Q8Acts {
  int64_t m = 0, k = 0, kb = 0;
  base::AlignedVector<int8_t> q;  // (m, k)
  std::vector<float> d;           // (m, kb)
};
void QuantizeActsQ8(const float* x, int64_t m, int64_t k, Q8Acts* out);
// Row r of W as floats (k values): d · q, exactly what the Q8_0 dequantizer gives.
void DequantRow(const Q8Weights& w, int64_t r, float* out);
// Per output (i, o), blocks ascending: isum = Σ w·q (exact int32), s = d_w · d_x,
// acc = fma(float(isum), s, acc); y = acc. The same IEEE operations on every ISA.
using GemmQ8RangeFn = void (*)(const Q8Weights& w, const Q8Acts& x, int64_t m0, int64_t m1,
                               int64_t t0, int64_t t1, float* y, int64_t ldy);

// 16-bit float weights — fp16 (heads and embeddings kept as GGUF F16) or bfloat16 (bf16
// checkpoints run in their own precision) — in 16-row tiles: h (tiles, k, 16), the 16 rows'
// values of column j contiguous. y = X · Wᵀ with float X: per output, k ascending,
// acc = fma(x_k, float(w_k), acc) from 0 — the same IEEE operations on every ISA.
enum class HalfType : uint8_t { kF16, kBF16 };
struct HalfWeights {
  HalfType type = HalfType::kF16;
  int64_t n = 0, k = 0, tiles = 0;
  base::AlignedVector<uint16_t> h;  // (tiles, k, 16)
};
HalfWeights RepackHalf(const uint16_t* rows, int64_t n, int64_t k, HalfType type,
                       const RowsDoneFn& done = nullptr);                           // rows: (n, k)
void DequantRow(const HalfWeights& w, int64_t r, float* out);  // row r of W as floats
using GemmHalfRangeFn = void (*)(const HalfWeights& w, const float* x, int64_t ldx, int64_t m0, int64_t m1,
                                int64_t t0, int64_t t1, float* y, int64_t ldy);

// Float weights as they are (row-major (n, k), e.g. an F32 head) times one vector: per row, 16
// partial sums (lane l takes columns k ≡ l mod 16, acc = fma(w, x, acc) ascending, the last
// step zero-padded), combined by the fixed tree (l, l+8), (l, l+4), (l, l+2), (0, 1) — the same
// IEEE operations on every ISA. Rows [r0, r1) of y.
using GemvF32RangeFn = void (*)(const float* w, int64_t k, const float* x, int64_t r0, int64_t r1, float* y);

// Float vector operations of the nn layers (float_ops_impl.h, compiled per ISA like the kernels
// above). Element-wise ones give the same bits on every ISA (IEEE operations, no contraction);
// attention's dot products and softmax sums differ between ISAs in summation order only.
// GELU (erf or tanh form) over n values; the backward accumulates: dinp += GELU'(inp) · dout.
using UnaryFn = void (*)(float* out, const float* inp, int64_t n);
using UnaryBackwardFn = void (*)(float* dinp, const float* inp, const float* dout, int64_t n);
// Scaled dot-product attention of one sequence: qkv (T, W) rows [q heads | k heads | v heads].
struct AttnDims {
  int64_t T = 0, NH = 0, NKV = 0, HD = 0;
  bool causal = false;
  int64_t W() const { return (NH + 2 * NKV) * HD; }
  int64_t ld() const { return (T + 15) / 16 * 16; }  // padded row of a transposed head
  // Floats of scratch one forward (head) / backward (KV group) task needs.
  int64_t forward_scratch() const { return HD * ld(); }
  int64_t backward_scratch() const { return HD * ld() + T * T + T; }
};
// Head h: out (T, NH·HD) columns [h·HD, (h+1)·HD) and att (T, T) its probabilities (0 above the
// diagonal if causal).
using AttnHeadForwardFn = void (*)(const AttnDims& d, int64_t h, const float* qkv, float* out, float* att,
                                   float* scratch);
// KV group g (heads g·NH/NKV …): accumulates into dqkv (T, W) the gradients of its heads' q and of
// its k and v, heads and positions in a fixed order; att (NH, T, T), dout (T, NH·HD).
using AttnGroupBackwardFn = void (*)(const AttnDims& d, int64_t g, const float* qkv, const float* att,
                                     const float* dout, float* dqkv, float* scratch);
// One query row over n keys and values (k + s·kstride, v + s·vstride): a (n) the probabilities,
// out (HD) = Σ_s a[s] · v_s (the cached decode step).
using AttnRowFn = void (*)(float* out, float* a, const float* q, const float* k, int64_t kstride, const float* v,
                           int64_t vstride, int64_t n, int64_t HD, float scale);

// LayerNorm over rows of C (double sums in 8 interleaved lanes, a fixed order; all steps IEEE
// operations, so the same bits on every ISA):
//   rows: out (n, C) = (x − mean) · rstd · w + b (b may be null), mean and rstd (n) saved;
//   rows backward: dinp (n, C) += the input gradient of those rows;
//   cols backward: dw[c] += Σ_i norm·dout, db[c] += Σ_i dout (db may be null) for columns
//   [c0, c1), rows i ascending over all N rows.
using LayerNormRowsFn = void (*)(float* out, float* mean, float* rstd, const float* inp, const float* w,
                                 const float* b, int64_t n, int64_t C, float eps);
using LayerNormRowsBackwardFn = void (*)(float* dinp, const float* dout, const float* inp, const float* w,
                                         const float* mean, const float* rstd, int64_t n, int64_t C);
using LayerNormColsBackwardFn = void (*)(float* dw, float* db, const float* dout, const float* inp,
                                         const float* mean, const float* rstd, int64_t N, int64_t C, int64_t c0,
                                         int64_t c1);
// One AdamW step over n parameters, element-wise in float (the same bits on every ISA):
//   p ·= decay; m = b1·m + c1·g; v = b2·v + c2·g²; p −= step_size · m / (√v / bc2_sqrt + eps).
struct AdamWConsts {
  float step_size, decay, b1, c1, b2, c2, bc2_sqrt, eps;
};
using AdamWFn = void (*)(float* p, const float* g, float* m, float* v, int64_t n, const AdamWConsts& k);

// An element-wise step on rows of a product C (M, N; ldc), into out (M, N; ld):
//   unary:    out = unary(C)                       (an activation of the up projection)
//   backward: out += backward'(in) · C, in (M, N; ld)   (its gradient, from the product's dX)
// Applied per row with the table's functions: the same values whether a GEMM applies it to each
// finished block or it runs afterwards.
struct GemmEpilogue {
  UnaryFn unary = nullptr;
  UnaryBackwardFn backward = nullptr;
  const float* in = nullptr;
  float* out = nullptr;
  int64_t ld = 0;
  // Rows [r0, r1), N columns.
  void Rows(const float* c, int64_t ldc, int64_t r0, int64_t r1, int64_t N) const {
    for (int64_t r = r0; r < r1; ++r) {
      if (unary) unary(out + r * ld, c + r * ldc, N);
      else backward(out + r * ld, in + r * ld, c + r * ldc, N);
    }
  }
};

struct KernelTable {
  Isa isa;
  GemmF32RangeFn gemm_f32;
  GemmI8RangeFn gemm_i8;
  QuantizeRowFn quantize_row;
  GemmQ8RangeFn gemm_q8;
  GemmHalfRangeFn gemm_half;
  GemvF32RangeFn gemv_f32;
  UnaryFn gelu_erf;
  UnaryBackwardFn gelu_erf_backward;
  UnaryFn gelu_tanh;
  UnaryBackwardFn gelu_tanh_backward;
  AttnHeadForwardFn attn_head_forward;
  AttnGroupBackwardFn attn_group_backward;
  AttnRowFn attn_row;
  LayerNormRowsFn layernorm_rows;
  LayerNormRowsBackwardFn layernorm_rows_backward;
  LayerNormColsBackwardFn layernorm_cols_backward;
  AdamWFn adamw;
};

// The table for this process: the best supported ISA, or T81_ISA=scalar|avx2|avx512|amx.
// An unsupported or unknown T81_ISA is reported once on stderr and the best ISA is used.
const KernelTable& Active();
const KernelTable& ForIsa(Isa isa);  // T81_CHECK(Supported(isa))

// x: (m, k) with row stride ldx, quantized row by row (threaded over rows).
void QuantizeActs(const KernelTable& kt, const float* x, int64_t m, int64_t k, int64_t ldx,
                  QuantizedActs* out);
inline void QuantizeActs(const float* x, int64_t m, int64_t k, int64_t ldx, QuantizedActs* out) {
  QuantizeActs(Active(), x, m, k, ldx, out);
}

// Multi-threaded drivers (OpenMP, base::SetNumThreads). x: (m, w.k) row stride ldx;
// y: (m, w.n) row stride ldy.
void GemmF32(const KernelTable& kt, const PackedWeights& w, const float* x, int64_t m,
             int64_t ldx, float* y, int64_t ldy, float alpha = 1.0f, float beta = 0.0f);
// With the amx table and x.m ≥ kAmxMinRows, GemmI8 runs on the tile unit (the same bits).
inline constexpr int64_t kAmxMinRows = 16;
void GemmI8(const KernelTable& kt, const PackedWeights& w, const QuantizedActs& x, float* y,
            int64_t ldy, float alpha = 1.0f, float beta = 0.0f);
// y (n) = W (n, k) · x (k) for row-major float W (threaded over rows; see GemvF32RangeFn). For one
// row of activations this streams W once, on t81's own threads (no BLAS thread pool competing
// with the kernels' OpenMP threads).
void GemvF32(const KernelTable& kt, const float* w, int64_t n, int64_t k, const float* x, float* y);
// This machine's streaming read bandwidth, GB/s: the best of `passes` rounds of reads of a `bytes`
// buffer (far larger than the caches) split over the OpenMP threads, each round reading it three
// ways (one plain stream per thread; with software prefetch; 4 prefetched streams per thread) —
// the limit a memory-bound decode runs against (t81 bench gguf reports decode as a fraction of it).
double StreamReadBandwidth(int64_t bytes = int64_t(1) << 30, int passes = 5);
// Float GEMM with bf16 products on the AMX tile unit (Intel Sapphire Rapids and later), row-major:
//   C (M, N; ldc) = beta · C + op(A) · op(B) [+ bias],  op(A) (M, K) = A or Aᵀ,  op(B) (K, N) = B or Bᵀ,
//   bias (N) added to every row (only with beta == 0; null: none).
// A and B are rounded to bf16 (nearest even, VCVTNEPS2BF16: denormals flush to zero); the tile
// unit sums the products in f32. beta == 0: C is not read. Threaded over 32-row blocks of C: the
// same bytes on any thread count. Only where AmxBf16Supported(): the active kernel table is amx
// (T81_ISA=avx512|avx2|scalar turns it off).
// post (may be null): an element-wise step GemmBf16 applies to each finished 32-row block of C
// (GemmEpilogue below) while the block is still in cache.
bool AmxBf16Supported();
struct GemmEpilogue;
void GemmBf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const float* bias = nullptr,
              const GemmEpilogue* post = nullptr);
// y (x.m, w.n) row stride ldy = X · Wᵀ with 8-bit weights (threaded over tiles of W).
void GemmQ8(const KernelTable& kt, const Q8Weights& w, const Q8Acts& x, float* y, int64_t ldy);
// y (m, w.n) row stride ldy = X (m, w.k) row stride ldx · Wᵀ with fp16 weights.
void GemmHalf(const KernelTable& kt, const HalfWeights& w, const float* x, int64_t m, int64_t ldx, float* y,
             int64_t ldy);

}  // namespace t81::kernels
