#include "t81/nn/layers.h"

#include <cblas.h>

#include "t81/kernels/kernels.h"

#include <algorithm>
#include <cmath>

namespace t81::nn {

void LinearForward(float* out, const float* inp, const float* weight, const float* bias, int64_t B,
                   int64_t C, int64_t OC) {
  if (B == 1) {
    // One row (decode): the kernel table's GEMV streams W once on t81's threads. (sgemm would
    // first copy all of W, and OpenBLAS's own thread pool competes with the OpenMP threads of
    // the packed kernels for the cores.)
    kernels::GemvF32(kernels::Active(), weight, OC, C, inp, out);
    if (bias)
      for (int64_t o = 0; o < OC; ++o) out[o] += bias[o];
    return;
  }
  if (bias) {
    for (int64_t b = 0; b < B; ++b) std::copy(bias, bias + OC, out + b * OC);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(B), int(OC), int(C), 1.0f, inp, int(C),
              weight, int(C), bias ? 1.0f : 0.0f, out, int(OC));
}

void LinearBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int64_t B, int64_t C, int64_t OC) {
  if (dinp)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(B), int(C), int(OC), 1.0f, dout,
                int(OC), weight, int(C), 1.0f, dinp, int(C));
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(OC), int(C), int(B), 1.0f, dout, int(OC),
              inp, int(C), 1.0f, dweight, int(C));
  if (dbias)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t o = 0; o < OC; ++o) dbias[o] += dout[b * OC + o];
}

void ReluForward(float* out, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void ReluBackward(float* dinp, const float* dout, const float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (out[i] > 0.0f) dinp[i] += dout[i];
}

double SoftmaxCrossEntropyForward(float* probs, const float* logits, const int32_t* labels,
                                  int64_t B, int64_t V, float smoothing) {
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
    loss += std::log(sum) - (1.0 - smoothing) * double(l[labels[b]] - mx) - smoothing * mean_logit / double(V);
  }
  return loss / double(B);
}

void SoftmaxCrossEntropyBackward(float* dlogits, const float* probs, const int32_t* labels,
                                 int64_t B, int64_t V, float scale, float smoothing) {
  const float off = smoothing / float(V), on = 1.0f - smoothing + off;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t v = 0; v < V; ++v)
      dlogits[b * V + v] += (probs[b * V + v] - (v == labels[b] ? on : off)) * scale;
}

}  // namespace t81::nn
