#include "t81/nn/transformer.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "t81/base/fastmath.h"
#include "t81/kernels/kernels.h"

namespace t81::nn {
namespace {

// fn(i0, n) over rows [0, N) of C values in fixed 16-row chunks, threaded once N·C is large (rows
// are independent: the same numbers on any thread count).
template <typename Fn>
void RowChunks(int64_t N, int64_t C, Fn fn) {
  constexpr int64_t kRows = 16;
#pragma omp parallel for schedule(static) if (N * C > (1 << 15))
  for (int64_t i0 = 0; i0 < N; i0 += kRows) fn(i0, std::min(kRows, N - i0));
}

}  // namespace

// The kernel table's LayerNorm (kernels.h: double sums in a fixed order, the same bits on every ISA).
void LayerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int64_t N, int64_t C, float eps) {
  const auto f = kernels::Active().layernorm_rows;
  RowChunks(N, C, [&](int64_t i0, int64_t n) {
    f(out + i0 * C, mean + i0, rstd + i0, inp + i0 * C, weight, bias, n, C, eps);
  });
}

// dinp rows are independent (threaded over rows); dweight and dbias are threaded over columns,
// each column summing its rows in ascending order — the same numbers on any thread count.
void LayerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int64_t N, int64_t C) {
  const kernels::KernelTable& kt = kernels::Active();
  RowChunks(N, C, [&](int64_t i0, int64_t n) {
    kt.layernorm_rows_backward(dinp + i0 * C, dout + i0 * C, inp + i0 * C, weight, mean + i0, rstd + i0, n, C);
  });
  constexpr int64_t kCols = 16;  // columns per task
#pragma omp parallel for schedule(static) if (N * C > (1 << 15))
  for (int64_t c0 = 0; c0 < C; c0 += kCols)
    kt.layernorm_cols_backward(dweight, dbias, dout, inp, mean, rstd, N, C, c0, std::min(C, c0 + kCols));
}

void RmsNormForward(float* out, float* rstd, const float* inp, const float* weight, int64_t N,
                    int64_t C, float eps) {
#pragma omp parallel for schedule(static) if (N * C > (1 << 15))
  for (int64_t i = 0; i < N; ++i) {
    const float* x = inp + i * C;
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += double(x[c]) * x[c];
    const float r = float(1.0 / std::sqrt(ss / double(C) + double(eps)));
    for (int64_t c = 0; c < C; ++c) out[i * C + c] = weight[c] * (x[c] * r);
    rstd[i] = r;
  }
}

// As LayerNormBackward: dinp threaded over rows, dweight over columns (rows ascending).
void RmsNormBackward(float* dinp, float* dweight, const float* dout, const float* inp,
                     const float* weight, const float* rstd, int64_t N, int64_t C) {
  const bool threaded = N * C > (1 << 15);
#pragma omp parallel for schedule(static) if (threaded)
  for (int64_t i = 0; i < N; ++i) {
    const float* x = inp + i * C;
    const float* dy = dout + i * C;
    const double r = rstd[i];
    double dot = 0;  // Σ dy·w·x
    for (int64_t c = 0; c < C; ++c) dot += double(dy[c]) * weight[c] * x[c];
    const double k = r * r * r * dot / double(C);
    for (int64_t c = 0; c < C; ++c) dinp[i * C + c] += float(double(dy[c]) * weight[c] * r - x[c] * k);
  }
  constexpr int64_t kCols = 16;
#pragma omp parallel for schedule(static) if (threaded)
  for (int64_t c0 = 0; c0 < C; c0 += kCols) {
    const int64_t c1 = std::min(C, c0 + kCols);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t c = c0; c < c1; ++c) dweight[c] += float(double(dout[i * C + c]) * inp[i * C + c] * double(rstd[i]));
  }
}

namespace {
// Element-wise ops over n values through the kernel table, threaded in fixed chunks once n is
// large (the ops are element-wise: the same numbers on any thread count).
template <typename Fn>
void Chunked(int64_t n, Fn fn) {
  constexpr int64_t kChunk = 1 << 14;
#pragma omp parallel for schedule(static) if (n > 2 * kChunk)
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) fn(i0, std::min(kChunk, n - i0));
}
}  // namespace

void GeluTanhForward(float* out, const float* inp, int64_t n) {
  const auto f = kernels::Active().gelu_tanh;
  Chunked(n, [&](int64_t i, int64_t m) { f(out + i, inp + i, m); });
}

void GeluTanhBackward(float* dinp, const float* inp, const float* dout, int64_t n) {
  const auto f = kernels::Active().gelu_tanh_backward;
  Chunked(n, [&](int64_t i, int64_t m) { f(dinp + i, inp + i, dout + i, m); });
}

// Exact-erf GELU x·Φ(x) (transformers' "gelu"), with erf from base::ErfF (absolute error < 5e-7,
// vectorized) and φ through base::ExpF.
void GeluErfForward(float* out, const float* inp, int64_t n) {
  const auto f = kernels::Active().gelu_erf;
  Chunked(n, [&](int64_t i, int64_t m) { f(out + i, inp + i, m); });
}

void GeluErfBackward(float* dinp, const float* inp, const float* dout, int64_t n) {
  const auto f = kernels::Active().gelu_erf_backward;
  Chunked(n, [&](int64_t i, int64_t m) { f(dinp + i, inp + i, dout + i, m); });
}

void SwiGluForward(float* out, const float* inp, int64_t N, int64_t F) {
  for (int64_t i = 0; i < N; ++i) {
    const float* g = inp + i * 2 * F;
    const float* u = g + F;
    for (int64_t j = 0; j < F; ++j) {
      const double sg = 1.0 / (1.0 + std::exp(-double(g[j])));
      out[i * F + j] = float(g[j] * sg) * u[j];
    }
  }
}

void SwiGluBackward(float* dinp, const float* inp, const float* dout, int64_t N, int64_t F) {
  for (int64_t i = 0; i < N; ++i) {
    const float* g = inp + i * 2 * F;
    const float* u = g + F;
    float* dg = dinp + i * 2 * F;
    float* du = dg + F;
    for (int64_t j = 0; j < F; ++j) {
      const double x = g[j];
      const double sg = 1.0 / (1.0 + std::exp(-x));
      const double dy = dout[i * F + j];
      du[j] += float(dy * x * sg);
      dg[j] += float(dy * u[j] * sg * (1.0 + x * (1.0 - sg)));
    }
  }
}

RopeTable::RopeTable(int64_t hd_, int64_t max_t_, double theta) : hd(hd_), max_t(max_t_) {
  const int64_t half = hd / 2;
  cos.resize(size_t(max_t * half));
  sin.resize(size_t(max_t * half));
  for (int64_t i = 0; i < half; ++i) {
    // As HF: inv_freq in float32, angle = float32(pos) * inv_freq in float32.
    const float inv_freq = float(1.0 / std::pow(theta, double(2 * i) / double(hd)));
    for (int64_t p = 0; p < max_t; ++p) {
      const float angle = float(p) * inv_freq;
      cos[size_t(p * half + i)] = float(std::cos(double(angle)));
      sin[size_t(p * half + i)] = float(std::sin(double(angle)));
    }
  }
}

namespace {
// Rotates each (i, i + HD/2) pair of H heads in N rows by angle ·sign (sign -1: the inverse).
void RopeRotate(float* x, int64_t N, int64_t H, int64_t HD, int64_t stride, const int64_t* pos,
                const RopeTable& rope, float sign) {
  const int64_t half = HD / 2;
  for (int64_t r = 0; r < N; ++r) {
    const float* c = rope.cos.data() + pos[r] * half;
    const float* s = rope.sin.data() + pos[r] * half;
    for (int64_t h = 0; h < H; ++h) {
      float* v = x + r * stride + h * HD;
      for (int64_t i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half], si = sign * s[i];
        v[i] = a * c[i] - b * si;
        v[i + half] = b * c[i] + a * si;
      }
    }
  }
}
}  // namespace

void RopeForward(float* x, int64_t N, int64_t H, int64_t HD, int64_t stride, const int64_t* pos,
                 const RopeTable& rope) {
  RopeRotate(x, N, H, HD, stride, pos, rope, 1.0f);
}

// The gradient of a rotation is the inverse rotation.
void RopeBackward(float* dx, int64_t N, int64_t H, int64_t HD, int64_t stride, const int64_t* pos,
                  const RopeTable& rope) {
  RopeRotate(dx, N, H, HD, stride, pos, rope, -1.0f);
}

void AttentionRow(float* out, float* a, const float* q, const float* k, int64_t kstride, const float* v,
                  int64_t vstride, int64_t n, int64_t HD, float scale) {
  kernels::Active().attn_row(out, a, q, k, kstride, v, vstride, n, HD, scale);
}

// One task per (sequence, head) forward and per (sequence, KV head) backward — heads sharing a KV
// head write the same dk/dv, so a task runs its heads and positions in a fixed order: the same
// numbers on any thread count.
void AttentionForward(float* out, float* att, const float* qkv, int64_t B, int64_t T, int64_t NH,
                      int64_t NKV, int64_t HD, bool causal) {
  const kernels::AttnDims d{.T = T, .NH = NH, .NKV = NKV, .HD = HD, .causal = causal};
  const auto f = kernels::Active().attn_head_forward;
#pragma omp parallel
  {
    std::vector<float> scratch(static_cast<size_t>(d.forward_scratch()));
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH; ++h)
        f(d, h, qkv + b * T * d.W(), out + b * T * NH * HD, att + (b * NH + h) * T * T, scratch.data());
  }
}

void AttentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att,
                       int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HD, bool causal) {
  const kernels::AttnDims d{.T = T, .NH = NH, .NKV = NKV, .HD = HD, .causal = causal};
  const auto f = kernels::Active().attn_group_backward;
#pragma omp parallel
  {
    std::vector<float> scratch(static_cast<size_t>(d.backward_scratch()));
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t g = 0; g < NKV; ++g)
        f(d, g, qkv + b * T * d.W(), att + b * NH * T * T, dout + b * T * NH * HD, dqkv + b * T * d.W(),
          scratch.data());
  }
}

double CausalLmLossForward(float* probs, const float* logits, const int64_t* labels, int64_t B,
                           int64_t T, int64_t V, int64_t* count) {
  double loss = 0;
  int64_t n = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss, n)
  for (int64_t r = 0; r < B * T; ++r) {
    const int64_t b = r / T, t = r % T;
    if (t + 1 >= T) continue;
    const int64_t target = labels[b * T + t + 1];
    if (target == -100) continue;
    const float* l = logits + r * V;
    float* p = probs + r * V;
    float mx = l[0];
    for (int64_t v = 1; v < V; ++v) mx = std::max(mx, l[v]);
    float sum = 0.0f;  // ExpF(...) ≤ 1; V float adds in 8 lanes (vectorized) stay accurate to ~1e-6
#pragma omp simd reduction(+ : sum)
    for (int64_t v = 0; v < V; ++v) {
      p[v] = base::ExpF(l[v] - mx);
      sum += p[v];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t v = 0; v < V; ++v) p[v] *= inv;
    loss += std::log(double(sum)) - double(l[target] - mx);
    ++n;
  }
  *count = n;
  return n ? loss / double(n) : 0.0;
}

void CausalLmLossBackward(float* dlogits, const float* probs, const int64_t* labels, int64_t B,
                          int64_t T, int64_t V, int64_t count) {
  if (count == 0) return;
  const float scale = 1.0f / float(count);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < B * T; ++r) {
    const int64_t b = r / T, t = r % T;
    if (t + 1 >= T) continue;
    const int64_t target = labels[b * T + t + 1];
    if (target == -100) continue;
    const float* p = probs + r * V;
    float* d = dlogits + r * V;
#pragma omp simd
    for (int64_t v = 0; v < V; ++v) d[v] += p[v] * scale;
    d[target] -= scale;
  }
}

void AdamWUpdate(float* param, const float* grad, float* m, float* v, int64_t n, double lr,
                 double beta1, double beta2, double eps, double weight_decay, int step) {
  // lr over the bias correction, the correction rounded to float first
  const kernels::AdamWConsts k{float(lr / double(float(1.0 - std::pow(beta1, step)))),
                               float(1.0 - lr * weight_decay),
                               float(beta1),
                               float(1.0 - beta1),
                               float(beta2),
                               float(1.0 - beta2),
                               float(std::sqrt(1.0 - std::pow(beta2, step))),
                               float(eps)};
  const auto f = kernels::Active().adamw;
  Chunked(n, [&](int64_t i, int64_t len) { f(param + i, grad + i, m + i, v + i, len, k); });
}

}  // namespace t81::nn
