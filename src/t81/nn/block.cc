#include "t81/nn/block.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "t81/base/check.h"
#include "t81/nn/layers.h"

namespace t81::nn {
namespace {

void AddInPlace(float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] += b[i];
}

// out (n, C) = norm(inp); mean (LayerNorm only) and rstd (n) saved.
void NormForward(const BlockConfig& c, float* out, float* mean, float* rstd, const float* inp, const float* w,
                 const float* b, int64_t n) {
  if (c.layernorm()) LayerNormForward(out, mean, rstd, inp, w, b, n, c.C, c.eps);
  else RmsNormForward(out, rstd, inp, w, n, c.C, c.eps);
}

void NormBackward(const BlockConfig& c, float* dinp, float* dw, float* db, const float* dout, const float* inp,
                  const float* w, const float* mean, const float* rstd, int64_t n) {
  if (c.layernorm()) LayerNormBackward(dinp, dw, db, dout, inp, w, mean, rstd, n, c.C);
  else RmsNormBackward(dinp, dw, dout, inp, w, rstd, n, c.C);
}

// act (n, FF) from up (n, up_dim).
void ActForward(const BlockConfig& c, float* act, const float* up, int64_t n) {
  switch (c.act) {
    case Activation::kSwiGlu: SwiGluForward(act, up, n, c.FF); break;
    case Activation::kGeluErf: GeluErfForward(act, up, n * c.FF); break;
    case Activation::kGeluTanh: GeluTanhForward(act, up, n * c.FF); break;
  }
}

void ActBackward(const BlockConfig& c, float* dup, const float* up, const float* dact, int64_t n) {
  switch (c.act) {
    case Activation::kSwiGlu: SwiGluBackward(dup, up, dact, n, c.FF); break;
    case Activation::kGeluErf: GeluErfBackward(dup, up, dact, n * c.FF); break;
    case Activation::kGeluTanh: GeluTanhBackward(dup, up, dact, n * c.FF); break;
  }
}

// The activation's forward (or backward) as the kernel table's element-wise function, for a GEMM
// epilogue: GELU has them; SwiGLU (two halves of a row) has none (both null).
kernels::GemmEpilogue ActEpilogue(const BlockConfig& c, bool backward) {
  const kernels::KernelTable& kt = kernels::Active();
  kernels::GemmEpilogue e;
  if (c.act == Activation::kGeluErf) {
    e.unary = kt.gelu_erf;
    e.backward = kt.gelu_erf_backward;
  } else if (c.act == Activation::kGeluTanh) {
    e.unary = kt.gelu_tanh;
    e.backward = kt.gelu_tanh_backward;
  }
  if (backward) e.unary = nullptr;  // GemmEpilogue::Rows takes unary when it is set
  else e.backward = nullptr;
  return e;
}

// up (n, up_dim) = the up projection of inp, act (n, FF) = its activation: an epilogue of the
// product where the activation is element-wise (the same values as ActForward after it).
void UpAndAct(const BlockConfig& c, BlockLinears& lin, int64_t l, float* up, float* act, const float* inp,
              int64_t n) {
  kernels::GemmEpilogue e = ActEpilogue(c, false);
  if (!e.unary) {
    lin.Forward(up, inp, l, BlockLinear::kUp, n);
    ActForward(c, act, up, n);
    return;
  }
  e.out = act;
  e.ld = c.FF;
  lin.Forward(up, inp, l, BlockLinear::kUp, n, &e);
}

// The down projection's backward (weight gradients; dact (n, FF) = dout · W, written whole) and
// then the activation's: dup (n, up_dim) = act'(up) · dact, zeroed first — an epilogue of the dact
// product where the activation is element-wise.
void DownAndActBackward(const BlockConfig& c, const BlockParams& g, BlockLinears& lin, int64_t l, const float* act,
                        const float* up, const float* dout, int64_t n, std::vector<float>* dact,
                        std::vector<float>* dup) {
  SizeFor(dact, n * c.FF);
  ZeroFill(dup, n * c.up_dim());
  kernels::GemmEpilogue e = ActEpilogue(c, true);
  if (!e.backward) {
    lin.Backward(dact->data(), g, dout, act, l, BlockLinear::kDown, n, GradWrite::kOverwrite);
    ActBackward(c, dup->data(), up, dact->data(), n);
    return;
  }
  e.in = up;
  e.out = dup->data();
  e.ld = c.FF;
  lin.Backward(dact->data(), g, dout, act, l, BlockLinear::kDown, n, GradWrite::kOverwrite, &e);
}

// RoPE on the q and k heads of n rows of qkv.
void RopeQk(const BlockConfig& c, float* qkv, int64_t n, const Positions& pos, bool backward) {
  if (!c.rope) return;
  auto rot = backward ? RopeBackward : RopeForward;
  rot(qkv, n, c.NH, c.HD, c.qkv_dim(), pos.pos, *pos.rope);
  rot(qkv + c.attn_dim(), n, c.NKV, c.HD, c.qkv_dim(), pos.pos, *pos.rope);
}

}  // namespace

int64_t BlockActsFloats(const BlockConfig& c, int64_t B, int64_t T) {
  const int64_t N = B * T, stats = c.layernorm() ? 2 * N : N;
  return N * c.C * 4 + 2 * stats + N * c.qkv_dim() + B * c.NH * T * T + N * c.attn_dim() + N * c.up_dim() +
         N * c.FF;
}

BlockActs BlockActsAt(const BlockConfig& c, int64_t B, int64_t T, float* p) {
  const int64_t N = B * T;
  auto take = [&p](int64_t n) {
    float* r = p;
    p += n;
    return r;
  };
  BlockActs a;
  a.ln1 = take(N * c.C);
  a.ln1_mean = c.layernorm() ? take(N) : nullptr;
  a.ln1_rstd = take(N);
  a.qkv = take(N * c.qkv_dim());
  a.att = take(B * c.NH * T * T);
  a.atty = take(N * c.attn_dim());
  a.res1 = take(N * c.C);
  a.ln2 = take(N * c.C);
  a.ln2_mean = c.layernorm() ? take(N) : nullptr;
  a.ln2_rstd = take(N);
  a.up = take(N * c.up_dim());
  a.act = take(N * c.FF);
  a.out = take(N * c.C);
  return a;
}

namespace {
// x (B, T, C) rows of sample b times f[b].
void ScaleSamples(float* x, const float* f, int64_t B, int64_t T, int64_t C) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T * C; ++i) x[b * T * C + i] *= f[b];
}

// dst = dresid with each sample's rows times f[b]: the gradient reaching a stochastic-depth branch.
const float* BranchGrad(std::vector<float>* dst, const float* dresid, const float* f, int64_t B, int64_t T, int64_t C) {
  if (!f) return dresid;
  dst->assign(dresid, dresid + B * T * C);
  ScaleSamples(dst->data(), f, B, T, C);
  return dst->data();
}
}  // namespace

void BlockForward(const BlockConfig& c, const BlockParams& p, BlockLinears& lin, int64_t l, const BlockActs& a,
                  const float* inp, int64_t B, int64_t T, const Positions& pos, const float* keep) {
  const int64_t N = B * T;
  NormForward(c, a.ln1, a.ln1_mean, a.ln1_rstd, inp, p.ln1_w, p.ln1_b, N);
  lin.Forward(a.qkv, a.ln1, l, BlockLinear::kQkv, N);
  RopeQk(c, a.qkv, N, pos, false);
  AttentionForward(a.atty, a.att, a.qkv, B, T, c.NH, c.NKV, c.HD, c.causal);
  lin.Forward(a.res1, a.atty, l, BlockLinear::kOut, N);
  if (keep) ScaleSamples(a.res1, keep, B, T, c.C);
  AddInPlace(a.res1, inp, N * c.C);
  NormForward(c, a.ln2, a.ln2_mean, a.ln2_rstd, a.res1, p.ln2_w, p.ln2_b, N);
  UpAndAct(c, lin, l, a.up, a.act, a.ln2, N);
  lin.Forward(a.out, a.act, l, BlockLinear::kDown, N);
  if (keep) ScaleSamples(a.out, keep + B, B, T, c.C);
  AddInPlace(a.out, a.res1, N * c.C);
}

void BlockBackward(const BlockConfig& c, const BlockParams& p, const BlockParams& g, BlockLinears& lin, int64_t l,
                   const BlockActs& a, const float* inp, float* dresid, int64_t B, int64_t T, const Positions& pos,
                   BlockGradScratch* s, const float* keep) {
  const int64_t N = B * T;
  // MLP: out = res1 + keep₁ · Down(act(Up(norm2(res1)))).
  DownAndActBackward(c, g, lin, l, a.act, a.up, BranchGrad(&s->dbranch, dresid, keep ? keep + B : nullptr, B, T, c.C),
                     N, &s->dact, &s->dup);
  SizeFor(&s->dnorm, N * c.C);
  lin.Backward(s->dnorm.data(), g, s->dup.data(), a.ln2, l, BlockLinear::kUp, N, GradWrite::kOverwrite);
  NormBackward(c, dresid, g.ln2_w, g.ln2_b, s->dnorm.data(), a.res1, p.ln2_w, a.ln2_mean, a.ln2_rstd, N);
  // Attention: res1 = inp + keep₀ · Out(attention(rope(Qkv(norm1(inp))))).
  SizeFor(&s->datty, N * c.attn_dim());
  lin.Backward(s->datty.data(), g, BranchGrad(&s->dbranch, dresid, keep, B, T, c.C), a.atty, l, BlockLinear::kOut, N, GradWrite::kOverwrite);
  ZeroFill(&s->dqkv, N * c.qkv_dim());
  AttentionBackward(s->dqkv.data(), s->datty.data(), a.qkv, a.att, B, T, c.NH, c.NKV, c.HD, c.causal);
  RopeQk(c, s->dqkv.data(), N, pos, true);
  SizeFor(&s->dnorm, N * c.C);
  lin.Backward(s->dnorm.data(), g, s->dqkv.data(), a.ln1, l, BlockLinear::kQkv, N, GradWrite::kOverwrite);
  NormBackward(c, dresid, g.ln1_w, g.ln1_b, s->dnorm.data(), inp, p.ln1_w, a.ln1_mean, a.ln1_rstd, N);
}

void BlockForwardFirstRows(const BlockConfig& c, const BlockParams& p, BlockLinears& lin, int64_t l,
                           const BlockActs& a, const float* inp, int64_t B, int64_t T, const float* keep) {
  T81_CHECK(!c.rope && !c.causal, "first-rows block: bidirectional attention without RoPE only");
  const int64_t N = B * T, C = c.C, W = c.qkv_dim(), HD = c.HD, NH = c.NH, AD = c.attn_dim(), group = NH / c.NKV;
  NormForward(c, a.ln1, a.ln1_mean, a.ln1_rstd, inp, p.ln1_w, p.ln1_b, N);
  lin.Forward(a.qkv, a.ln1, l, BlockLinear::kQkv, N);
  const float scale = float(1.0 / std::sqrt(double(HD)));
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h) {
      const float* q = a.qkv + b * T * W + h * HD;                 // row t = 0
      const float* k = a.qkv + b * T * W + (NH + h / group) * HD;  // rows of stride W
      AttentionRow(a.atty + b * AD + h * HD, a.att + (b * NH + h) * T * T, q, k, W, k + c.NKV * HD, W, T, HD, scale);
    }
  lin.Forward(a.res1, a.atty, l, BlockLinear::kOut, B);  // (B, C) from here on
  if (keep) ScaleSamples(a.res1, keep, B, 1, C);
  for (int64_t b = 0; b < B; ++b) AddInPlace(a.res1 + b * C, inp + b * T * C, C);
  NormForward(c, a.ln2, a.ln2_mean, a.ln2_rstd, a.res1, p.ln2_w, p.ln2_b, B);
  UpAndAct(c, lin, l, a.up, a.act, a.ln2, B);
  lin.Forward(a.out, a.act, l, BlockLinear::kDown, B);
  if (keep) ScaleSamples(a.out, keep + B, B, 1, C);
  AddInPlace(a.out, a.res1, B * C);
}

void BlockBackwardFirstRows(const BlockConfig& c, const BlockParams& p, const BlockParams& g, BlockLinears& lin,
                            int64_t l, const BlockActs& a, const float* inp, float* dresid, int64_t B, int64_t T,
                            BlockGradScratch* s, const float* keep) {
  T81_CHECK(!c.rope && !c.causal, "first-rows block: bidirectional attention without RoPE only");
  const int64_t N = B * T, C = c.C, W = c.qkv_dim(), HD = c.HD, NH = c.NH, NKV = c.NKV, AD = c.attn_dim(),
                group = NH / NKV;
  std::vector<float>& d = s->dfirst;  // (B, C): d out, then d res1
  d.assign(dresid, dresid + B * C);
  DownAndActBackward(c, g, lin, l, a.act, a.up, BranchGrad(&s->dbranch, d.data(), keep ? keep + B : nullptr, B, 1, C),
                     B, &s->dact, &s->dup);
  SizeFor(&s->dnorm, B * C);
  lin.Backward(s->dnorm.data(), g, s->dup.data(), a.ln2, l, BlockLinear::kUp, B, GradWrite::kOverwrite);
  NormBackward(c, d.data(), g.ln2_w, g.ln2_b, s->dnorm.data(), a.res1, p.ln2_w, a.ln2_mean, a.ln2_rstd, B);
  SizeFor(&s->datty, B * AD);
  lin.Backward(s->datty.data(), g, BranchGrad(&s->dbranch, d.data(), keep, B, 1, C), a.atty, l, BlockLinear::kOut, B, GradWrite::kOverwrite);
  // One query (t = 0) per (sample, head): with a its probabilities and dy its output's gradient,
  // dP_s = dy·v_s, dS_s = a_s (dP_s − Σ a·dP) · scale; dq += Σ dS_s k_s, dk_s += dS_s q, dv_s += a_s dy.
  ZeroFill(&s->dqkv, N * W);
  float* dqkv = s->dqkv.data();
  const float scale = float(1.0 / std::sqrt(double(HD)));
#pragma omp parallel
  {
    std::vector<float> ds(static_cast<size_t>(T));  // (T): one head's dP, per thread
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t kv = 0; kv < NKV; ++kv) {  // a group's heads share k and v: one task writes them
        for (int64_t h = kv * group; h < (kv + 1) * group; ++h) {
          const float* att = a.att + (b * NH + h) * T * T;
          const float* dy = s->datty.data() + b * AD + h * HD;
          const float* q = a.qkv + b * T * W + h * HD;
          float* dq = dqkv + b * T * W + h * HD;
          double dot = 0;
          for (int64_t t = 0; t < T; ++t) {
            const float* v = a.qkv + (b * T + t) * W + (NH + NKV + kv) * HD;
            float dp = 0.0f;
            for (int64_t i = 0; i < HD; ++i) dp += dy[i] * v[i];
            ds[size_t(t)] = dp;
            dot += double(att[t]) * dp;
          }
          for (int64_t t = 0; t < T; ++t) {
            const float dst = att[t] * (ds[size_t(t)] - float(dot)) * scale;
            const float* k = a.qkv + (b * T + t) * W + (NH + kv) * HD;
            float* dk = dqkv + (b * T + t) * W + (NH + kv) * HD;
            float* dv = dk + NKV * HD;
            for (int64_t i = 0; i < HD; ++i) {
              dq[i] += dst * k[i];
              dk[i] += dst * q[i];
              dv[i] += att[t] * dy[i];
            }
          }
        }
      }
  }
  // The residual: d inp is d res1 at the rows t = 0 and nothing else; norm1's backward adds to it.
  ZeroFill(dresid, N * C);
  for (int64_t b = 0; b < B; ++b) std::memcpy(dresid + b * T * C, d.data() + b * C, size_t(C) * 4);
  SizeFor(&s->dnorm, N * C);
  lin.Backward(s->dnorm.data(), g, dqkv, a.ln1, l, BlockLinear::kQkv, N, GradWrite::kOverwrite);
  NormBackward(c, dresid, g.ln1_w, g.ln1_b, s->dnorm.data(), inp, p.ln1_w, a.ln1_mean, a.ln1_rstd, N);
}

void AttentionCachedForward(float* out, float* scores, const float* qkv, float* kc, float* vc, int64_t TC,
                            int64_t p0, int64_t n, int64_t NH, int64_t NKV, int64_t HD) {
  const int64_t W = (NH + 2 * NKV) * HD, AH = NH * HD, KVW = NKV * HD, group = NH / NKV;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < NKV; ++g) {
      const float* k = qkv + r * W + AH + g * HD;
      std::memcpy(kc + (g * TC + p0 + r) * HD, k, size_t(HD) * 4);
      std::memcpy(vc + (g * TC + p0 + r) * HD, k + KVW, size_t(HD) * 4);
    }
  const float scale = float(1.0 / std::sqrt(double(HD)));
  // (row, head) pairs in parallel once there is enough context to pay for the fork.
#pragma omp parallel for schedule(static) if (n * (p0 + n) >= 32)
  for (int64_t rh = 0; rh < n * NH; ++rh) {
    const int64_t r = rh / NH, h = rh % NH, g = h / group;
    AttentionRow(out + r * AH + h * HD, scores + rh * TC, qkv + r * W + h * HD, kc + g * TC * HD, HD, vc + g * TC * HD,
                 HD, p0 + r + 1, HD, scale);
  }
}

void DecodeScratch::Reserve(const BlockConfig& c, int64_t rows_, int64_t TC_) {
  if (rows_ <= rows && TC_ <= TC) return;
  rows = std::max(rows, rows_);
  TC = std::max(TC, TC_);
  auto buf = [](std::vector<float>& v, int64_t n) { v.assign(size_t(n), 0.0f); };
  buf(h, rows * c.C);
  buf(qkv, rows * c.qkv_dim());
  buf(y, rows * c.attn_dim());
  buf(o, rows * c.C);
  buf(up, rows * c.up_dim());
  buf(act, rows * c.FF);
  buf(scores, rows * c.NH * TC);
  buf(mean, rows);
  buf(rstd, rows);
}

void BlockDecode(const BlockConfig& c, const BlockParams& p, BlockLinears& lin, int64_t l, float* x, int64_t n,
                 int64_t p0, const Positions& pos, float* kc, float* vc, int64_t TC, DecodeScratch* s) {
  T81_CHECK(c.causal && n <= s->rows && p0 + n <= TC && TC <= s->TC);
  NormForward(c, s->h.data(), s->mean.data(), s->rstd.data(), x, p.ln1_w, p.ln1_b, n);
  lin.Forward(s->qkv.data(), s->h.data(), l, BlockLinear::kQkv, n);
  RopeQk(c, s->qkv.data(), n, pos, false);
  AttentionCachedForward(s->y.data(), s->scores.data(), s->qkv.data(), kc, vc, TC, p0, n, c.NH, c.NKV, c.HD);
  lin.Forward(s->o.data(), s->y.data(), l, BlockLinear::kOut, n);
  AddInPlace(x, s->o.data(), n * c.C);
  NormForward(c, s->h.data(), s->mean.data(), s->rstd.data(), x, p.ln2_w, p.ln2_b, n);
  lin.Forward(s->up.data(), s->h.data(), l, BlockLinear::kUp, n);
  ActForward(c, s->act.data(), s->up.data(), n);
  lin.Forward(s->o.data(), s->act.data(), l, BlockLinear::kDown, n);
  AddInPlace(x, s->o.data(), n * c.C);
}

}  // namespace t81::nn
