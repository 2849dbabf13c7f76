// Transformer layers as Forward/Backward functions over plain buffers (llm.c style): outputs
// first, gradients d-prefixed and accumulated (+=). N = rows (B·T), C = channels, B batch,
// T sequence, NH query heads, NKV key/value heads (grouped-query attention), HD head size.
#pragma once

#include <cstdint>
#include <vector>

namespace t81::nn {

// out (N, C), mean (N), rstd (N) saved for backward; weight, bias (C). Matches torch LayerNorm.
void LayerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int64_t N, int64_t C, float eps);
void LayerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int64_t N, int64_t C);

// out = inp · rstd · weight, rstd = 1/sqrt(mean(inp²) + eps) (N). Matches HF LlamaRMSNorm.
void RmsNormForward(float* out, float* rstd, const float* inp, const float* weight, int64_t N,
                    int64_t C, float eps);
void RmsNormBackward(float* dinp, float* dweight, const float* dout, const float* inp,
                     const float* weight, const float* rstd, int64_t N, int64_t C);

// GELU, tanh approximation (HF gelu_new / gelu_pytorch_tanh). out may alias inp.
void GeluTanhForward(float* out, const float* inp, int64_t n);
void GeluTanhBackward(float* dinp, const float* inp, const float* dout, int64_t n);
// GELU, exact erf form (HF gelu).
void GeluErfForward(float* out, const float* inp, int64_t n);
void GeluErfBackward(float* dinp, const float* inp, const float* dout, int64_t n);

// inp (N, 2F) rows [gate | up]; out (N, F) = silu(gate) · up.
void SwiGluForward(float* out, const float* inp, int64_t N, int64_t F);
void SwiGluBackward(float* dinp, const float* inp, const float* dout, int64_t N, int64_t F);

// Rotary position embedding, HF rotate_half convention: for i < HD/2 the pair (i, i + HD/2)
// rotates by angle pos · theta^(-2i/HD).
struct RopeTable {
  int64_t hd = 0, max_t = 0;
  std::vector<float> cos, sin;  // (max_t, hd/2)
  RopeTable() = default;
  RopeTable(int64_t hd, int64_t max_t, double theta);
};
// Rotates H heads of size HD in each of N rows (row stride `stride`), row r at position pos[r].
void RopeForward(float* x, int64_t N, int64_t H, int64_t HD, int64_t stride, const int64_t* pos,
                 const RopeTable& rope);
// Gradient through RopeForward, in place (the inverse rotation).
void RopeBackward(float* dx, int64_t N, int64_t H, int64_t HD, int64_t stride, const int64_t* pos,
                  const RopeTable& rope);

// One query row of scaled dot-product attention over n keys and values (k + s·kstride and
// v + s·vstride for s < n): a (n) the softmax probabilities, out (HD) = Σ_s a[s] · v_s (the
// cached decode step). This and AttentionForward/Backward run the kernel table's float ops.
void AttentionRow(float* out, float* a, const float* q, const float* k, int64_t kstride, const float* v,
                  int64_t vstride, int64_t n, int64_t HD, float scale);

// Scaled dot-product attention, causal (decoders) or not (ViT).
// qkv (B, T, (NH + 2·NKV)·HD) rows [q heads | k heads | v heads]; out (B, T, NH·HD);
// att (B, NH, T, T) softmax probabilities saved for backward (0 above the diagonal if causal).
void AttentionForward(float* out, float* att, const float* qkv, int64_t B, int64_t T, int64_t NH,
                      int64_t NKV, int64_t HD, bool causal = true);
void AttentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att,
                       int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HD,
                       bool causal = true);

// Causal LM loss with shifted labels: position t of each sequence predicts labels[t+1]; labels
// equal to -100 are ignored. probs (B, T, V) saved; returns the mean over counted positions and
// sets *count. Labels must be in [0, V) or -100 (checked by callers).
double CausalLmLossForward(float* probs, const float* logits, const int64_t* labels, int64_t B,
                           int64_t T, int64_t V, int64_t* count);
void CausalLmLossBackward(float* dlogits, const float* probs, const int64_t* labels, int64_t B,
                          int64_t T, int64_t V, int64_t count);

// AdamW, torch.optim.AdamW semantics (decoupled weight decay, bias-corrected moments).
// step is 1-based. Hyper-parameters are doubles, as in torch, and enter the float update the way
// torch's scalar arguments do (1 - beta computed in double, then rounded).
void AdamWUpdate(float* param, const float* grad, float* m, float* v, int64_t n, double lr,
                 double beta1, double beta2, double eps, double weight_decay, int step);

}  // namespace t81::nn
