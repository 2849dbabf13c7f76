#include "t81/nn/layers.h"

#include <cblas.h>

#include "t81/kernels/kernels.h"

#include <algorithm>
#include <atomic>
#include <cmath>

namespace t81::nn {
namespace {

std::atomic<MatmulPrecision> g_precision{MatmulPrecision::kFp32};

bool Bf16Active() {
  return g_precision.load(std::memory_order_relaxed) == MatmulPrecision::kBf16 && kernels::AmxBf16Supported();
}

// C (M, N; ldc) = beta·C + op(A)·op(B), row-major (cblas_sgemm's arguments with alpha = 1).
// post (may be null): an element-wise step on C, in the bf16 GEMM or after sgemm.
void Gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc, const kernels::GemmEpilogue* post = nullptr) {
  if (Bf16Active())
    return kernels::GemmBf16(trans_a, trans_b, M, N, K, a, lda, b, ldb, beta, c, ldc, nullptr, post);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(M), int(N),
              int(K), 1.0f, a, int(lda), b, int(ldb), beta, c, int(ldc));
  if (post) ApplyEpilogue(*post, c, ldc, M, N);
}

}  // namespace

void SetMatmulPrecision(MatmulPrecision p) { g_precision.store(p); }
MatmulPrecision GetMatmulPrecision() { return g_precision.load(); }
bool Bf16MatmulAvailable() { return kernels::AmxBf16Supported(); }

void ApplyEpilogue(const kernels::GemmEpilogue& e, const float* c, int64_t ldc, int64_t M, int64_t N) {
  constexpr int64_t kRows = 16;
#pragma omp parallel for schedule(static) if (M * N > (1 << 15))
  for (int64_t r0 = 0; r0 < M; r0 += kRows) e.Rows(c, ldc, r0, std::min(M, r0 + kRows), N);
}

void LinearForward(float* out, const float* inp, const float* weight, const float* bias, int64_t B,
                   int64_t C, int64_t OC, const kernels::GemmEpilogue* post) {
  if (B == 1) {
    // One row (decode): the kernel table's GEMV streams W once on t81's threads. (sgemm would
    // first copy all of W, and OpenBLAS's own thread pool competes with the OpenMP threads of
    // the packed kernels for the cores.)
    kernels::GemvF32(kernels::Active(), weight, OC, C, inp, out);
    if (bias)
      for (int64_t o = 0; o < OC; ++o) out[o] += bias[o];
    if (post) ApplyEpilogue(*post, out, OC, 1, OC);
    return;
  }
  if (Bf16Active()) return kernels::GemmBf16(false, true, B, OC, C, inp, C, weight, C, 0.0f, out, OC, bias, post);
  if (bias) {
    for (int64_t b = 0; b < B; ++b) std::copy(bias, bias + OC, out + b * OC);
  }
  Gemm(false, true, B, OC, C, inp, C, weight, C, bias ? 1.0f : 0.0f, out, OC, post);
}

void LinearBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int64_t B, int64_t C, int64_t OC, GradWrite dinp_write,
                    const kernels::GemmEpilogue* dinp_post) {
  if (dinp)
    Gemm(false, false, B, C, OC, dout, OC, weight, C, dinp_write == GradWrite::kOverwrite ? 0.0f : 1.0f, dinp, C,
         dinp_post);
  Gemm(true, false, OC, C, B, dout, OC, inp, C, 1.0f, dweight, C);
  if (dbias) {
    // Threaded over columns; each column sums its rows in ascending order (any thread count).
    constexpr int64_t kCols = 64;
#pragma omp parallel for schedule(static) if (B * OC > (1 << 16))
    for (int64_t o0 = 0; o0 < OC; o0 += kCols) {
      const int64_t o1 = std::min(OC, o0 + kCols);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t o = o0; o < o1; ++o) dbias[o] += dout[b * OC + o];
    }
  }
}

void ZeroFill(float* p, int64_t n) {
  constexpr int64_t kChunk = int64_t(1) << 14;
#pragma omp parallel for schedule(static) if (n > 4 * kChunk)
  for (int64_t i = 0; i < n; i += kChunk) std::fill(p + i, p + std::min(n, i + kChunk), 0.0f);
}

void ReluForward(float* out, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void ReluBackward(float* dinp, const float* dout, const float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (out[i] > 0.0f) dinp[i] += dout[i];
}

double SoftmaxCrossEntropyForward(float* probs, const float* logits, const int32_t* labels,
                                  int64_t B, int64_t V, float smoothing, const MixedTargets* mix) {
  double loss = 0;
  for (int64_t b = 0; b < B; ++b) {
    const float* l = logits + b * V;
    float* p = probs + b * V;
    const float mx = *std::max_element(l, l + V);
    double sum = 0, mean_logit = 0;
    for (int64_t v = 0; v < V; ++v) {
      sum += std::exp(double(l[v] - mx));
      mean_logit += double(l[v] - mx);
    }
    for (int64_t v = 0; v < V; ++v) p[v] = float(std::exp(double(l[v] - mx)) / sum);
    // -Σ target·log p = log(sum) - (1 - ε)·(l_y - mx) - ε·mean(l - mx)
    double ly = double(l[labels[b]] - mx);
    if (mix) ly = double(mix->lambda[b]) * ly + (1.0 - double(mix->lambda[b])) * double(l[mix->labels[b]] - mx);
    loss += std::log(sum) - (1.0 - smoothing) * ly - smoothing * mean_logit / double(V);
  }
  return loss / double(B);
}

void SoftmaxCrossEntropyBackward(float* dlogits, const float* probs, const int32_t* labels,
                                 int64_t B, int64_t V, float scale, float smoothing, const MixedTargets* mix) {
  const float off = smoothing / float(V), on = 1.0f - smoothing + off;
  if (!mix) {
    for (int64_t b = 0; b < B; ++b)
      for (int64_t v = 0; v < V; ++v)
        dlogits[b * V + v] += (probs[b * V + v] - (v == labels[b] ? on : off)) * scale;
    return;
  }
  for (int64_t b = 0; b < B; ++b) {
    const float lam = mix->lambda[b], hot = 1.0f - smoothing;  // the one-hot part's total weight
    for (int64_t v = 0; v < V; ++v) {
      const float t = off + (v == labels[b] ? hot * lam : 0.0f) + (v == mix->labels[b] ? hot * (1.0f - lam) : 0.0f);
      dlogits[b * V + v] += (probs[b * V + v] - t) * scale;
    }
  }
}

}  // namespace t81::nn
