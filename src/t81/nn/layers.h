// Layers as Forward/Backward functions over plain buffers (llm.c style): outputs first, then
// inputs, then sizes. Backward functions accumulate (+=) into d-prefixed gradients; callers zero
// them once per step. B = batch rows, C = input features, OC = output features, V = classes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "t81/kernels/kernels.h"

namespace t81::nn {

// The precision of the Linear layers' matrix products (process-wide, like PyTorch's
// set_float32_matmul_precision): kFp32 is OpenBLAS sgemm; kBf16 rounds both operands to bf16 and
// sums in f32 on the AMX tile unit (kernels::GemmBf16) where kernels::AmxBf16Supported(), and is
// kFp32 elsewhere. Training keeps f32 weights, gradients and optimizer state either way.
enum class MatmulPrecision { kFp32, kBf16 };
void SetMatmulPrecision(MatmulPrecision p);
MatmulPrecision GetMatmulPrecision();
// True when kBf16 really runs in bf16 (AMX-BF16 present and granted).
bool Bf16MatmulAvailable();

// The element-wise step e on c (M, N; ldc), threaded over rows: what a GEMM's epilogue does,
// done afterwards (the same values).
void ApplyEpilogue(const kernels::GemmEpilogue& e, const float* c, int64_t ldc, int64_t M, int64_t N);

// out (B, OC) = inp (B, C) · weight (OC, C)ᵀ + bias (OC). bias may be null. OpenBLAS sgemm (or
// the bf16 GEMM, above); one row (B = 1) through the kernel table's GEMV. post (may be null): an
// element-wise step on out (an activation), inside the bf16 GEMM or right after the product.
void LinearForward(float* out, const float* inp, const float* weight, const float* bias, int64_t B,
                   int64_t C, int64_t OC, const kernels::GemmEpilogue* post = nullptr);
// How a Backward writes an input gradient: added to it (the rule above), or written over it (a
// buffer this Backward alone produces, which then needs no zeroing first; same values).
enum class GradWrite { kAccumulate, kOverwrite };
// dinp (B, C) += dout · weight (= with kOverwrite);  dweight (OC, C) += doutᵀ · inp;
// dbias (OC) += Σ_rows dout. dinp and dbias may be null (not needed). dinp_post (may be null, needs
// dinp): an element-wise step on dinp once computed (an activation's backward), as in LinearForward.
void LinearBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int64_t B, int64_t C, int64_t OC,
                    GradWrite dinp_write = GradWrite::kAccumulate, const kernels::GemmEpilogue* dinp_post = nullptr);

// *v holds n floats (their values unspecified): a buffer a kOverwrite Backward writes whole.
template <class FloatVector>
void SizeFor(FloatVector* v, int64_t n) {
  if (int64_t(v->size()) != n) v->resize(std::size_t(n));
}

// p (n) = 0, filled by all threads when large.
void ZeroFill(float* p, int64_t n);
// *v = n zeros (the d-buffers each Backward accumulates into), in place when v holds n floats.
template <class FloatVector>
void ZeroFill(FloatVector* v, int64_t n) {
  if (int64_t(v->size()) != n)
    v->assign(std::size_t(n), 0.0f);
  else
    ZeroFill(v->data(), n);
}

// out (n) = max(inp, 0). out may alias inp.
void ReluForward(float* out, const float* inp, int64_t n);
// dinp (n) += dout where out > 0.
void ReluBackward(float* dinp, const float* dout, const float* out, int64_t n);

// probs (B, V) = softmax(logits); returns the mean cross-entropy over rows (double accumulation)
// against the target (1 - ε)·onehot(label) + ε/V (label smoothing ε = `smoothing`; 0: plain).
// Mixed targets (CutMix), when mix is given: row b's one-hot is λ_b·onehot(label) +
// (1 − λ_b)·onehot(mix->labels[b]), so its loss is λ_b·CE(label) + (1 − λ_b)·CE(second label).
struct MixedTargets {
  const int32_t* labels = nullptr;  // (B) the second label of each row
  const float* lambda = nullptr;    // (B) the first label's weight, in [0, 1]
};
double SoftmaxCrossEntropyForward(float* probs, const float* logits, const int32_t* labels,
                                  int64_t B, int64_t V, float smoothing = 0.0f, const MixedTargets* mix = nullptr);
// dlogits (B, V) += (probs - target) · scale  (scale = 1/B for a mean loss; target as above).
void SoftmaxCrossEntropyBackward(float* dlogits, const float* probs, const int32_t* labels,
                                 int64_t B, int64_t V, float scale, float smoothing = 0.0f,
                                 const MixedTargets* mix = nullptr);

}  // namespace t81::nn
