#include "t81/nn/transformer.h"

#include <algorithm>
#include <cmath>

#include "t81/base/fastmath.h"

namespace t81::nn {

// Rows are independent: threaded over rows, the same numbers on any thread count.
void LayerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int64_t N, int64_t C, float eps) {
#pragma omp parallel for schedule(static) if (N * C > (1 << 15))
  for (int64_t i = 0; i < N; ++i) {
    const float* x = inp + i * C;
    double m = 0;
    for (int64_t c = 0; c < C; ++c) m += x[c];
    m /= double(C);
    double v = 0;
    for (int64_t c = 0; c < C; ++c) v += (x[c] - m) * (x[c] - m);
    v /= double(C);
    const double s = 1.0 / std::sqrt(v + double(eps));
    float* o = out + i * C;
    for (int64_t c = 0; c < C; ++c)
      o[c] = float((x[c] - m) * s) * weight[c] + (bias ? bias[c] : 0.0f);
    mean[i] = float(m);
    rstd[i] = float(s);
  }
}

// dinp rows are independent (threaded over rows); dweight and dbias are threaded over columns,
// each column summing its rows in ascending order — the same numbers on any thread count.
void LayerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int64_t N, int64_t C) {
  const bool threaded = N * C > (1 << 15);
#pragma omp parallel for schedule(static) if (threaded)
  for (int64_t i = 0; i < N; ++i) {
    const float* x = inp + i * C;
    const float* dy = dout + i * C;
    double dnorm_mean = 0, dnorm_norm_mean = 0;
    for (int64_t c = 0; c < C; ++c) {
      const double norm = (x[c] - mean[i]) * double(rstd[i]);
      const double dnorm = double(weight[c]) * dy[c];
      dnorm_mean += dnorm;
      dnorm_norm_mean += dnorm * norm;
    }
    dnorm_mean /= double(C);
    dnorm_norm_mean /= double(C);
    for (int64_t c = 0; c < C; ++c) {
      const double norm = (x[c] - mean[i]) * double(rstd[i]);
      const double dnorm = double(weight[c]) * dy[c];
      dinp[i * C + c] += float((dnorm - dnorm_mean - norm * dnorm_norm_mean) * rstd[i]);
    }
  }
  constexpr int64_t kCols = 16;  // columns per task
#pragma omp parallel for schedule(static) if (threaded)
  for (int64_t c0 = 0; c0 < C; c0 += kCols) {
    const int64_t c1 = std::min(C, c0 + kCols);
    for (int64_t i = 0; i < N; ++i) {
      const float* x = inp + i * C;
      const float* dy = dout + i * C;
      for (int64_t c = c0; c < c1; ++c) {
        const double norm = (x[c] - mean[i]) * double(rstd[i]);
        if (dbias) dbias[c] += dy[c];
        dweight[c] += float(norm * dy[c]);
      }
    }
  }
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
constexpr double kSqrt2OverPi = 0.7978845608028654;
}

void GeluTanhForward(float* out, const float* inp, int64_t n) {
  const float k = float(kSqrt2OverPi);
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.0f + base::TanhF(k * (x + 0.044715f * x * x * x)));
  }
}

void GeluTanhBackward(float* dinp, const float* inp, const float* dout, int64_t n) {
  const float k = float(kSqrt2OverPi);
#pragma omp parallel for simd schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    const float t = base::TanhF(k * (x + 0.044715f * x * x * x));
    const float du = k * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] += (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du) * dout[i];
  }
}

// Exact-erf GELU x·Φ(x) (transformers' "gelu"), with erf from base::ErfF (absolute error < 5e-7,
// vectorized) and φ through base::ExpF.
void GeluErfForward(float* out, const float* inp, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * inp[i] * (1.0f + base::ErfF(inp[i] * 0.70710678118654752f));
}

void GeluErfBackward(float* dinp, const float* inp, const float* dout, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    const float cdf = 0.5f * (1.0f + base::ErfF(x * 0.70710678118654752f));
    const float pdf = base::ExpF(-0.5f * x * x) * 0.39894228040143268f;  // φ(x)
    dinp[i] += (cdf + x * pdf) * dout[i];
  }
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
  float mx = -INFINITY;
  for (int64_t s = 0; s < n; ++s) {
    const float* ks = k + s * kstride;
    float dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t i = 0; i < HD; ++i) dot += q[i] * ks[i];
    a[s] = dot * scale;
    mx = std::max(mx, a[s]);
  }
  double sum = 0;
  for (int64_t s = 0; s < n; ++s) {
    a[s] = base::ExpF(a[s] - mx);
    sum += a[s];
  }
  const float inv = float(1.0 / sum);
  for (int64_t s = 0; s < n; ++s) a[s] *= inv;
  for (int64_t i = 0; i < HD; ++i) out[i] = 0.0f;
  for (int64_t s = 0; s < n; ++s) {
    const float* vs = v + s * vstride;
    const float as = a[s];
#pragma omp simd
    for (int64_t i = 0; i < HD; ++i) out[i] += as * vs[i];
  }
}

void AttentionForward(float* out, float* att, const float* qkv, int64_t B, int64_t T, int64_t NH,
                      int64_t NKV, int64_t HD, bool causal) {
  const int64_t W = (NH + 2 * NKV) * HD;
  const int64_t group = NH / NKV;
  const float scale = float(1.0 / std::sqrt(double(HD)));
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h) {
      const int64_t g = h / group;
      const float* rows = qkv + b * T * W;
      for (int64_t t = 0; t < T; ++t) {
        float* a = att + ((b * NH + h) * T + t) * T;
        const int64_t n = causal ? t + 1 : T;
        AttentionRow(out + (b * T + t) * NH * HD + h * HD, a, rows + t * W + h * HD, rows + (NH + g) * HD, W,
                     rows + (NH + NKV + g) * HD, W, n, HD, scale);
        for (int64_t s = n; s < T; ++s) a[s] = 0.0f;
      }
    }
}

void AttentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att,
                       int64_t B, int64_t T, int64_t NH, int64_t NKV, int64_t HD, bool causal) {
  const int64_t W = (NH + 2 * NKV) * HD;
  const int64_t group = NH / NKV;
  const float scale = float(1.0 / std::sqrt(double(HD)));
  // Heads sharing a KV head write the same dk/dv: each (batch row, KV head) is one task that runs
  // its heads and positions in order, so the sums are the same on any thread count.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t g = 0; g < NKV; ++g) {
      std::vector<float> dscore(static_cast<size_t>(T));
      for (int64_t h = g * group; h < (g + 1) * group; ++h)
        for (int64_t t = 0; t < T; ++t) {
          const float* a = att + ((b * NH + h) * T + t) * T;
          const float* dy = dout + (b * T + t) * NH * HD + h * HD;
          const int64_t last = causal ? t : T - 1;
          // dv and d(probability)
          double dot_pd = 0;
          for (int64_t s = 0; s <= last; ++s) {
            const float* v = qkv + (b * T + s) * W + (NH + NKV + g) * HD;
            float* dv = dqkv + (b * T + s) * W + (NH + NKV + g) * HD;
            float dp = 0;
#pragma omp simd reduction(+ : dp)
            for (int64_t i = 0; i < HD; ++i) {
              dv[i] += a[s] * dy[i];
              dp += dy[i] * v[i];
            }
            dscore[size_t(s)] = dp;
            dot_pd += double(a[s]) * dp;
          }
          // through the softmax, then the scaled dot product
          const float* q = qkv + (b * T + t) * W + h * HD;
          float* dq = dqkv + (b * T + t) * W + h * HD;
          for (int64_t s = 0; s <= last; ++s) {
            const float ds = float(a[s] * (dscore[size_t(s)] - dot_pd)) * scale;
            const float* k = qkv + (b * T + s) * W + (NH + g) * HD;
            float* dk = dqkv + (b * T + s) * W + (NH + g) * HD;  // the K part: never overlaps dq
#pragma omp simd
            for (int64_t i = 0; i < HD; ++i) {
              dq[i] += ds * k[i];
              dk[i] += ds * q[i];
            }
          }
        }
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
  const float bc1 = float(1.0 - std::pow(beta1, step));
  const float bc2_sqrt = float(std::sqrt(1.0 - std::pow(beta2, step)));
  const float step_size = float(lr / double(bc1));
  const float decay = float(1.0 - lr * weight_decay);
  const float b1 = float(beta1), b2 = float(beta2), c1 = float(1.0 - beta1), c2 = float(1.0 - beta2);
  const float feps = float(eps);
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    param[i] *= decay;
    m[i] = b1 * m[i] + c1 * grad[i];
    v[i] = b2 * v[i] + c2 * grad[i] * grad[i];
    // torch: denom = sqrt(v) / sqrt(bias_correction2) + eps; p -= (lr / bias_correction1) · m / denom
    param[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + feps);
  }
}

}  // namespace t81::nn
