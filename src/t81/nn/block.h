// The transformer block, written once: GPT-2, Llama, Phi-3 and ViT are embeddings + L of these +
// a head. Pre-norm, llm.c style (Forward/Backward over plain buffers, outputs first, gradients
// d-prefixed and accumulated):
//
//   res1 = inp  + Out(Attention(rope(Qkv(norm1(inp)))))
//   out  = res1 + Down(act(Up(norm2(res1))))
//
// N = B·T rows, C channels, NH query heads, NKV key/value heads (grouped-query), HD head size,
// FF MLP width. Qkv gives rows [q heads | k heads | v heads]; with SwiGLU, Up gives [gate | up].
// The four linear layers run through BlockLinears (float, QAT fake-quant or packed ternary).
#pragma once

#include <cstdint>
#include <vector>

#include "t81/nn/block_linears.h"
#include "t81/nn/transformer.h"

namespace t81::nn {

// Rows of one block's saved activations (B·T); every buffer is owned by the caller (the model's
// activation arena), laid out by BlockActsAt.
struct BlockActs {
  float* ln1;       // (N, C)        norm1(inp)
  float* ln1_mean;  // (N)           LayerNorm only (else null)
  float* ln1_rstd;  // (N)
  float* qkv;       // (N, qkv_dim)  after RoPE
  float* att;       // (B, NH, T, T) attention probabilities
  float* atty;      // (N, NH·HD)    attention output
  float* res1;      // (N, C)        residual after attention
  float* ln2;       // (N, C)        norm2(res1)
  float* ln2_mean;  // (N)           LayerNorm only (else null)
  float* ln2_rstd;  // (N)
  float* up;        // (N, up_dim)   Up output (SwiGLU: [gate | up])
  float* act;       // (N, FF)       activation output
  float* out;       // (N, C)        the block's output (residual after the MLP)
};
// Floats one block's activations take for a (B, T) batch, and their layout from p.
int64_t BlockActsFloats(const BlockConfig& c, int64_t B, int64_t T);
BlockActs BlockActsAt(const BlockConfig& c, int64_t B, int64_t T, float* p);

// Positions: pos (N) the position of each row and rope its table; both used only when c.rope.
struct Positions {
  const int64_t* pos = nullptr;
  const RopeTable* rope = nullptr;
};

// Forward of block l over inp (B, T, C); saves into a what BlockBackward needs; a.out is the output.
// keep (2, B) or null: stochastic depth (Huang et al., 2016), a training aid — each sample's
// attention branch (row 0) and MLP branch (row 1) output is multiplied by its factor (0 drops the
// branch, 1/(1 − p) keeps it) before it joins the residual stream. BlockBackward takes the same.
void BlockForward(const BlockConfig& c, const BlockParams& p, BlockLinears& lin, int64_t l, const BlockActs& a,
                  const float* inp, int64_t B, int64_t T, const Positions& pos, const float* keep = nullptr);

// Scratch for BlockBackward (sized on first use, reused).
struct BlockGradScratch {
  std::vector<float> dnorm, dqkv, datty, dup, dact, dbranch, dfirst;
};
// Backward of block l. dresid (N, C): on entry d loss / d out, on return d loss / d inp (the
// residual stream carries it through). Parameter gradients accumulate (+=) into g; for QAT the
// straight-through gradient reaches the float weight. Needs lin in kFloat or kQat mode.
void BlockBackward(const BlockConfig& c, const BlockParams& p, const BlockParams& g, BlockLinears& lin, int64_t l,
                   const BlockActs& a, const float* inp, float* dresid, int64_t B, int64_t T, const Positions& pos,
                   BlockGradScratch* s, const float* keep = nullptr);

// The last block of a classifier that reads only position 0 of each sample (ViT's [CLS]), without
// the work no later layer uses: norm1, Qkv and thus the keys and values run on all N rows; the
// queries, Out, the residual, norm2 and the MLP only on the B rows t = 0. Bidirectional, no RoPE.
// Outputs are compact: the first B rows of a.atty, a.res1, a.ln2 (and its stats), a.up, a.act and
// a.out hold row t = 0 of sample b; a.att holds row 0 of each (b, head). The numbers are those of
// BlockForward's rows t = 0 (attention through AttentionRow: the same formula).
void BlockForwardFirstRows(const BlockConfig& c, const BlockParams& p, BlockLinears& lin, int64_t l,
                           const BlockActs& a, const float* inp, int64_t B, int64_t T, const float* keep = nullptr);
// Its backward: dresid (N, C) holds on entry d loss / d out in its first B rows (compact, as a.out);
// on return d loss / d inp for all N rows. Parameter gradients accumulate into g.
void BlockBackwardFirstRows(const BlockConfig& c, const BlockParams& p, const BlockParams& g, BlockLinears& lin,
                            int64_t l, const BlockActs& a, const float* inp, float* dresid, int64_t B, int64_t T,
                            BlockGradScratch* s, const float* keep = nullptr);

// Scaled dot-product attention of n new rows (positions p0 .. p0 + n - 1) against a KV cache.
// qkv (n, qkv_dim) rows as in Qkv; their keys and values are first stored in the cache
// kc, vc (NKV, TC, HD): each head's positions contiguous, TC ≥ p0 + n. Row r attends to
// positions ≤ p0 + r. out (n, NH·HD); scores (n·NH, TC) scratch. The same formula as
// AttentionForward (causal), so a cached decode equals the full recompute to float rounding.
void AttentionCachedForward(float* out, float* scores, const float* qkv, float* kc, float* vc, int64_t TC,
                            int64_t p0, int64_t n, int64_t NH, int64_t NKV, int64_t HD);

// Scratch of BlockDecode for up to `rows` rows and a cache of TC positions.
struct DecodeScratch {
  int64_t rows = 0, TC = 0;
  std::vector<float> h, qkv, y, o, up, act, scores, mean, rstd;
  void Reserve(const BlockConfig& c, int64_t rows, int64_t TC);
};
// Inference of block l for n rows at positions p0 .. p0 + n - 1 (pos.pos (n) holds them), x
// (n, C) in place, attending through the block's KV cache kc, vc (NKV, TC, HD). Every row is
// computed exactly as it would be alone: linears are per row, attention reads the cache up to
// the row's own position.
void BlockDecode(const BlockConfig& c, const BlockParams& p, BlockLinears& lin, int64_t l, float* x, int64_t n,
                 int64_t p0, const Positions& pos, float* kc, float* vc, int64_t TC, DecodeScratch* s);

}  // namespace t81::nn
