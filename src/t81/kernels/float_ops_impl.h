// Float vector operations of the nn layers (kernels.h: the kernel table's GELU and attention
// entries), one source compiled once per ISA: ref/, avx2/ and avx512/ each include it inside their
// own namespace, after <algorithm>, <cmath> and t81/base/fastmath.h. Plain loops that GCC
// vectorizes with the file's flags; no std containers (their out-of-line instantiations could be
// shared with code compiled for less).
// No include guard: one inclusion per ISA file.

// Fixed-width accumulator chunks: one AVX-512 register, two AVX2 ones, four SSE2 ones.
constexpr int64_t kLanes = 16;

void GeluErfForward(float* out, const float* inp, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * inp[i] * (1.0f + base::ErfF(inp[i] * 0.70710678118654752f));
}

// d/dx [x·Φ(x)] = Φ(x) + x·φ(x); dinp += that · dout.
void GeluErfBackward(float* dinp, const float* inp, const float* dout, int64_t n) {
  constexpr float kInvSqrt2Pi = 0.39894228040143268f;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    const float e = base::ExpF(-0.5f * x * x);  // exp(-x²/2): in erf(x/√2) and in φ(x)
    const float cdf = 0.5f * (1.0f + base::ErfWithExp(x * 0.70710678118654752f, e));
    const float pdf = e * kInvSqrt2Pi;  // φ(x)
    dinp[i] += (cdf + x * pdf) * dout[i];
  }
}

void GeluTanhForward(float* out, const float* inp, int64_t n) {
  const float k = float(0.7978845608028654);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.0f + base::TanhF(k * (x + 0.044715f * x * x * x)));
  }
}

void GeluTanhBackward(float* dinp, const float* inp, const float* dout, int64_t n) {
  const float k = float(0.7978845608028654);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    const float t = base::TanhF(k * (x + 0.044715f * x * x * x));
    const float du = k * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] += (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du) * dout[i];
  }
}

namespace {

// a[0, n) ← softmax(a[0, n)).
void SoftmaxInPlace(float* a, int64_t n) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int64_t s = 0; s < n; ++s) mx = std::max(mx, a[s]);
  float sum = 0.0f;  // terms ≤ 1 summed in lanes: relative error ~1e-7 even for n in the thousands
#pragma omp simd reduction(+ : sum)
  for (int64_t s = 0; s < n; ++s) {
    a[s] = base::ExpF(a[s] - mx);
    sum += a[s];
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int64_t s = 0; s < n; ++s) a[s] *= inv;
}

// xt (HD, ld) ← the n rows x + s·stride (HD values each), transposed; columns [n, ld) zero.
void TransposePadded(float* xt, const float* x, int64_t stride, int64_t n, int64_t HD, int64_t ld) {
  for (int64_t i = 0; i < HD; ++i) {
    float* row = xt + i * ld;
    for (int64_t s = 0; s < n; ++s) row[s] = x[s * stride + i];
    for (int64_t s = n; s < ld; ++s) row[s] = 0.0f;
  }
}

// y[s0 + c·16 + l] = alpha · Σ_i x[i] · mt[i·ld + s0 + c·16 + l] for C chunks of 16 positions
// (independent accumulators: the adds of one chunk do not wait on another's).
template <int C>
void RowTimesColsChunks(float* y, const float* x, int64_t K, const float* mt, int64_t ld, int64_t s0, int64_t n,
                        float alpha) {
  float acc[C][kLanes] = {};
  for (int64_t i = 0; i < K; ++i) {
    const float xi = x[i];
    const float* m = mt + i * ld + s0;
    T81_UNROLL for (int c = 0; c < C; ++c)
#pragma omp simd
      for (int64_t l = 0; l < kLanes; ++l) acc[c][l] += xi * m[c * kLanes + l];
  }
  T81_UNROLL for (int c = 0; c < C; ++c) {
    const int64_t m = std::min(kLanes, n - s0 - c * kLanes);
    for (int64_t l = 0; l < m; ++l) y[s0 + c * kLanes + l] = alpha * acc[c][l];
  }
}

// R rows at once (x_r = x + r·xs, y_r = y + r·ys): each row's sums exactly as RowTimesColsChunks
// forms them, with every load of mt shared by the R rows.
template <int R, int C>
void RowsTimesColsChunks(float* y, int64_t ys, const float* x, int64_t xs, int64_t K, const float* mt, int64_t ld,
                         int64_t s0, int64_t n, float alpha) {
  float acc[R][C][kLanes] = {};
  for (int64_t i = 0; i < K; ++i) {
    const float* m = mt + i * ld + s0;
    T81_UNROLL for (int r = 0; r < R; ++r) {
      const float xi = x[r * xs + i];
      T81_UNROLL for (int c = 0; c < C; ++c)
#pragma omp simd
        for (int64_t l = 0; l < kLanes; ++l) acc[r][c][l] += xi * m[c * kLanes + l];
    }
  }
  T81_UNROLL for (int r = 0; r < R; ++r) T81_UNROLL for (int c = 0; c < C; ++c) {
    const int64_t m = std::min(kLanes, n - s0 - c * kLanes);
    for (int64_t l = 0; l < m; ++l) y[r * ys + s0 + c * kLanes + l] = alpha * acc[r][c][l];
  }
}

// y[s] = alpha · Σ_i x[i] · mt[i·ld + s] for s < n (mt (K, ld), ld ≥ n rounded up to kLanes).
void RowTimesCols(float* y, const float* x, int64_t K, const float* mt, int64_t ld, int64_t n, float alpha) {
  int64_t s0 = 0;
  for (; s0 + 3 * kLanes < n; s0 += 4 * kLanes) RowTimesColsChunks<4>(y, x, K, mt, ld, s0, n, alpha);
  switch ((n - s0 + kLanes - 1) / kLanes) {  // 0 to 3 chunks left
    case 3: RowTimesColsChunks<3>(y, x, K, mt, ld, s0, n, alpha); break;
    case 2: RowTimesColsChunks<2>(y, x, K, mt, ld, s0, n, alpha); break;
    case 1: RowTimesColsChunks<1>(y, x, K, mt, ld, s0, n, alpha); break;
    default: break;
  }
}

// y (HD) = (accumulate ? y : 0) + Σ_{s < n} w[s] · (x + s·stride): per 16 columns, four partial
// sums over s ≡ 0, 1, 2, 3 (mod 4) in ascending s, then (p0 + p1) + (p2 + p3).
void WeightedRows(float* y, const float* w, const float* x, int64_t stride, int64_t n, int64_t HD, bool accumulate) {
  int64_t i0 = 0;
  for (; i0 + kLanes <= HD; i0 += kLanes) {
    float acc[4][kLanes] = {};
    int64_t s = 0;
    for (; s + 4 <= n; s += 4)
      T81_UNROLL for (int u = 0; u < 4; ++u) {
        const float ws = w[s + u];
        const float* xs = x + (s + u) * stride + i0;
#pragma omp simd
        for (int64_t l = 0; l < kLanes; ++l) acc[u][l] += ws * xs[l];
      }
    for (int u = 0; s < n; ++s, ++u) {
      const float ws = w[s];
      const float* xs = x + s * stride + i0;
#pragma omp simd
      for (int64_t l = 0; l < kLanes; ++l) acc[u][l] += ws * xs[l];
    }
#pragma omp simd
    for (int64_t l = 0; l < kLanes; ++l)
      y[i0 + l] = (accumulate ? y[i0 + l] : 0.0f) + ((acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]));
  }
  for (; i0 < HD; ++i0) {
    float acc = 0.0f;
    for (int64_t s = 0; s < n; ++s) acc += w[s] * x[s * stride + i0];
    y[i0] = (accumulate ? y[i0] : 0.0f) + acc;
  }
}

// RowTimesCols for R rows (x_r = x + r·xs, y_r = y + r·ys): the same bits, loads shared.
template <int R>
void RowsTimesCols(float* y, int64_t ys, const float* x, int64_t xs, int64_t K, const float* mt, int64_t ld,
                   int64_t n, float alpha) {
  int64_t s0 = 0;
  for (; s0 + kLanes < n; s0 += 2 * kLanes) RowsTimesColsChunks<R, 2>(y, ys, x, xs, K, mt, ld, s0, n, alpha);
  if (s0 < n) RowsTimesColsChunks<R, 1>(y, ys, x, xs, K, mt, ld, s0, n, alpha);
}

// WeightedRows (accumulate = false) for R rows of weights (w_r = w + r·ws, y_r = y + r·ys) over the
// same x: each row's partial sums exactly as WeightedRows forms them, every load of x shared.
// HD a multiple of kLanes.
template <int R>
void WeightedRowsMany(float* y, int64_t ys, const float* w, int64_t ws, const float* x, int64_t stride, int64_t n,
                      int64_t HD) {
  for (int64_t i0 = 0; i0 < HD; i0 += kLanes) {
    float acc[R][4][kLanes] = {};
    int64_t s = 0;
    for (; s + 4 <= n; s += 4)
      T81_UNROLL for (int u = 0; u < 4; ++u) {
        const float* xs = x + (s + u) * stride + i0;
        T81_UNROLL for (int r = 0; r < R; ++r) {
          const float wr = w[r * ws + s + u];
#pragma omp simd
          for (int64_t l = 0; l < kLanes; ++l) acc[r][u][l] += wr * xs[l];
        }
      }
    for (int u = 0; s < n; ++s, ++u) {
      const float* xs = x + s * stride + i0;
      T81_UNROLL for (int r = 0; r < R; ++r) {
        const float wr = w[r * ws + s];
#pragma omp simd
        for (int64_t l = 0; l < kLanes; ++l) acc[r][u][l] += wr * xs[l];
      }
    }
    T81_UNROLL for (int r = 0; r < R; ++r)
#pragma omp simd
      for (int64_t l = 0; l < kLanes; ++l)
        y[r * ys + i0 + l] = 0.0f + ((acc[r][0][l] + acc[r][1][l]) + (acc[r][2][l] + acc[r][3][l]));
  }
}

// Query rows handled together by AttentionHeadForward (R accumulator sets must fit the registers).
#if defined(__AVX512F__)
constexpr int kQueryRows = 4;
#else
constexpr int kQueryRows = 2;
#endif

int64_t Padded(int64_t T) { return (T + kLanes - 1) / kLanes * kLanes; }

}  // namespace

void AttentionRow(float* out, float* a, const float* q, const float* k, int64_t kstride, const float* v,
                  int64_t vstride, int64_t n, int64_t HD, float scale) {
  for (int64_t s = 0; s < n; ++s) {
    const float* ks = k + s * kstride;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t i = 0; i < HD; ++i) dot += q[i] * ks[i];
    a[s] = dot * scale;
  }
  SoftmaxInPlace(a, n);
  WeightedRows(out, a, v, vstride, n, HD, /*accumulate=*/false);
}

void AttentionHeadForward(const AttnDims& d, int64_t h, const float* qkv, float* out, float* att, float* scratch) {
  const int64_t HD = d.HD, T = d.T, W = d.W(), ld = Padded(T), g = h / (d.NH / d.NKV);
  const float scale = 1.0f / std::sqrt(float(HD));
  float* kt = scratch;  // (HD, ld): the head's keys, transposed
  TransposePadded(kt, qkv + (d.NH + g) * HD, W, T, HD, ld);
  int64_t t = 0;
  if (!d.causal && HD % kLanes == 0) {  // kQueryRows rows at a time, every row's bits as below
    const int64_t OW = d.NH * HD;
    const float* v = qkv + (d.NH + d.NKV + g) * HD;
    for (; t + kQueryRows <= T; t += kQueryRows) {
      float* a = att + t * T;
      RowsTimesCols<kQueryRows>(a, T, qkv + t * W + h * HD, W, HD, kt, ld, T, scale);
      for (int r = 0; r < kQueryRows; ++r) SoftmaxInPlace(a + r * T, T);
      WeightedRowsMany<kQueryRows>(out + t * OW + h * HD, OW, a, T, v, W, T, HD);
    }
  }
  for (; t < T; ++t) {
    float* a = att + t * T;  // (T): scores, then probabilities
    const int64_t n = d.causal ? t + 1 : T;
    RowTimesCols(a, qkv + t * W + h * HD, HD, kt, ld, n, scale);
    SoftmaxInPlace(a, n);
    for (int64_t s = n; s < T; ++s) a[s] = 0.0f;
    WeightedRows(out + t * d.NH * HD + h * HD, a, qkv + (d.NH + d.NKV + g) * HD, W, n, HD, false);
  }
}

void AttentionGroupBackward(const AttnDims& d, int64_t g, const float* qkv, const float* att, const float* dout,
                            float* dqkv, float* scratch) {
  const int64_t HD = d.HD, T = d.T, W = d.W(), ld = Padded(T), group = d.NH / d.NKV, OW = d.NH * HD;
  const float scale = 1.0f / std::sqrt(float(HD));
  float* vt = scratch;         // (HD, ld): the group's values, transposed
  float* ds = vt + HD * ld;    // (T, T): d(score) of one head
  float* col = ds + T * T;     // (T): one column of att or ds
  const float* k = qkv + (d.NH + g) * HD;
  const float* v = k + d.NKV * HD;
  float* dk = dqkv + (d.NH + g) * HD;
  float* dv = dk + d.NKV * HD;
  TransposePadded(vt, v, W, T, HD, ld);
  for (int64_t h = g * group; h < (g + 1) * group; ++h) {
    const float* ah = att + h * T * T;  // (T, T) of head h
    const float* dy = dout + h * HD;    // rows of stride OW
    const float* q = qkv + h * HD;
    for (int64_t t = 0; t < T; ++t) {
      const float* a = ah + t * T;
      float* dst = ds + t * T;
      const int64_t n = d.causal ? t + 1 : T;
      RowTimesCols(dst, dy + t * OW, HD, vt, ld, n, 1.0f);  // d(probability)[s] = dy_t · v_s
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int64_t s = 0; s < n; ++s) dot += a[s] * dst[s];
#pragma omp simd
      for (int64_t s = 0; s < n; ++s) dst[s] = a[s] * (dst[s] - dot) * scale;  // through softmax and scale
      for (int64_t s = n; s < T; ++s) dst[s] = 0.0f;
      WeightedRows(dqkv + t * W + h * HD, dst, k, W, n, HD, /*accumulate=*/true);  // dq_t += Σ_s ds·k_s
    }
    // dv_s += Σ_t a[t][s] · dy_t and dk_s += Σ_t ds[t][s] · q_t (t ≥ s only when causal)
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t0 = d.causal ? s : 0;
      for (int64_t t = t0; t < T; ++t) col[t] = ah[t * T + s];
      WeightedRows(dv + s * W, col + t0, dy + t0 * OW, OW, T - t0, HD, true);
      for (int64_t t = t0; t < T; ++t) col[t] = ds[t * T + s];
      WeightedRows(dk + s * W, col + t0, q + t0 * W, W, T - t0, HD, true);
    }
  }
}

// Σ_{c < C} f(c) in double, in 8 interleaved partial sums combined pairwise: a fixed order, so the
// same number on every ISA (8 doubles are one AVX-512 register).
template <class F>
inline double Sum8(int64_t C, F f) {
  double s[8] = {};
  int64_t c = 0;
  for (; c + 8 <= C; c += 8)
    for (int u = 0; u < 8; ++u) s[u] += f(c + u);
  for (int u = 0; c < C; ++c, ++u) s[u] += f(c);
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

void LayerNormRows(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int64_t n,
                   int64_t C, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    const float* x = inp + i * C;
    const double m = Sum8(C, [x](int64_t c) { return double(x[c]); }) / double(C);
    const double v = Sum8(C, [x, m](int64_t c) { return (x[c] - m) * (x[c] - m); }) / double(C);
    const double s = 1.0 / std::sqrt(v + double(eps));
    float* o = out + i * C;
    if (b)
      for (int64_t c = 0; c < C; ++c) o[c] = float((x[c] - m) * s) * w[c] + b[c];
    else
      for (int64_t c = 0; c < C; ++c) o[c] = float((x[c] - m) * s) * w[c] + 0.0f;
    mean[i] = float(m);
    rstd[i] = float(s);
  }
}

void LayerNormRowsBackward(float* dinp, const float* dout, const float* inp, const float* w, const float* mean,
                           const float* rstd, int64_t n, int64_t C) {
  for (int64_t i = 0; i < n; ++i) {
    const float* x = inp + i * C;
    const float* dy = dout + i * C;
    const float mi = mean[i];
    const double ri = rstd[i];
    const double dnorm_mean = Sum8(C, [&](int64_t c) { return double(w[c]) * dy[c]; }) / double(C);
    const double dnorm_norm_mean = Sum8(C, [&](int64_t c) { return double(w[c]) * dy[c] * ((x[c] - mi) * ri); }) / double(C);
    float* d = dinp + i * C;
    for (int64_t c = 0; c < C; ++c) {
      const double norm = (x[c] - mi) * ri;
      const double dnorm = double(w[c]) * dy[c];
      d[c] += float((dnorm - dnorm_mean - norm * dnorm_norm_mean) * ri);
    }
  }
}

void LayerNormColsBackward(float* dw, float* db, const float* dout, const float* inp, const float* mean,
                           const float* rstd, int64_t N, int64_t C, int64_t c0, int64_t c1) {
  for (int64_t i = 0; i < N; ++i) {
    const float* x = inp + i * C;
    const float* dy = dout + i * C;
    const float mi = mean[i];
    const double ri = rstd[i];
    if (db)
      for (int64_t c = c0; c < c1; ++c) db[c] += dy[c];
    for (int64_t c = c0; c < c1; ++c) dw[c] += float(((x[c] - mi) * ri) * dy[c]);
  }
}

void AdamW(float* p, const float* g, float* m, float* v, int64_t n, const AdamWConsts& k) {
  const float step_size = k.step_size, decay = k.decay, b1 = k.b1, c1 = k.c1, b2 = k.b2, c2 = k.c2,
              bc2_sqrt = k.bc2_sqrt, eps = k.eps;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float pd = p[i] * decay;
    const float mi = b1 * m[i] + c1 * g[i];
    const float vi = b2 * v[i] + c2 * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    // torch: denom = sqrt(v) / sqrt(bias_correction2) + eps; p −= (lr / bias_correction1) · m / denom
    p[i] = pd - step_size * mi / (std::sqrt(vi) / bc2_sqrt + eps);
  }
}
