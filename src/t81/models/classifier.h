// A multilayer perceptron classifier (ReLU between layers) for benchmark 1, in three forms:
//   float training (FP32), QAT training (fake-quantized forward, straight-through backward, float
//   latent weights), and TernaryClassifier: packed ternary weights run by the kernel table.
// Widths: linear = 784 -> 10 (the seed's TinyClassifier), mlp = 784 -> 512 -> 256 -> 10.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/kernels/kernels.h"
#include "t81/quant/tq.h"

namespace t81::models {

struct ClassifierConfig {
  std::vector<int64_t> widths;  // input, hidden..., classes
};
Result<ClassifierConfig> ClassifierPreset(const std::string& name, int64_t input, int64_t classes);

struct QuantConfig {
  quant::Granularity granularity = quant::Granularity::kRow;
  float threshold = quant::kDefaultThreshold;
  quant::TqFormat format = quant::TqFormat::kTq2_0;
};

struct SgdConfig {
  float lr = 0.01f;
  float momentum = 0.9f;
};

class Classifier {
 public:
  Classifier(ClassifierConfig cfg, uint64_t seed);  // PyTorch Linear init: U(±1/sqrt(C))

  const ClassifierConfig& config() const { return cfg_; }
  int layers() const { return int(cfg_.widths.size()) - 1; }
  int64_t in(int l) const { return cfg_.widths[size_t(l)]; }
  int64_t out(int l) const { return cfg_.widths[size_t(l) + 1]; }

  // One SGD-with-momentum step on x (B, in) / y (B); returns the batch's mean loss.
  // qat != null: forward uses FakeQuantize(weight) (the one quantizer), backward passes the
  // gradient straight through to the latent float weights.
  double TrainStep(const float* x, const int32_t* y, int64_t B, const SgdConfig& opt,
                   const QuantConfig* qat);
  // logits (B, classes) from the float weights.
  void Forward(float* logits, const float* x, int64_t B);
  int64_t Fp32Bytes() const;  // 4 bytes per parameter, biases included

  std::vector<std::vector<float>> weight;  // [l]: (out, in)
  std::vector<std::vector<float>> bias;    // [l]: (out)

 private:
  void Reserve(int64_t B);
  ClassifierConfig cfg_;
  int64_t cap_ = 0;
  std::vector<std::vector<float>> act_;   // [l]: (B, width l); act_[0] unused (input)
  std::vector<std::vector<float>> dact_;  // [l]: (B, width l)
  std::vector<std::vector<float>> dweight_, dbias_, mweight_, mbias_, qweight_;
  std::vector<float> probs_;
};

// Activation path of the packed kernels: float, int8, or per layer (int8 when the layer has at
// least kAutoI8MinOutputs outputs: quantizing X costs O(M·K) and pays off only over enough outputs).
enum class ActPath : uint8_t { kF32, kI8, kAuto };
inline constexpr int64_t kAutoI8MinOutputs = 64;
Result<ActPath> ParseActPath(std::string_view s);
const char* ActPathName(ActPath p);

// out (N, w.n) = inp (N, C) · Wᵀ + bias (bias may be null) through the packed kernels of kt, with
// the activation path act; scratch holds the int8 activations. The one packed linear of every model.
void PackedLinear(const kernels::KernelTable& kt, const kernels::PackedWeights& w, ActPath act, const float* inp,
                  int64_t N, int64_t C, const float* bias, float* out, kernels::QuantizedActs* scratch);

class TernaryClassifier {
 public:
  TernaryClassifier(const Classifier& c, const QuantConfig& q, ActPath act,
                    const kernels::KernelTable& kt);
  // logits (B, classes). Each layer: one kernel call, + bias, ReLU between layers.
  void Forward(float* logits, const float* x, int64_t B);
  int64_t Bytes() const;  // packed TQ payload (with scales and padding) + float biases

 private:
  ClassifierConfig cfg_;
  ActPath act_;
  const kernels::KernelTable& kt_;
  std::vector<quant::TernaryMatrix> stored_;
  std::vector<kernels::PackedWeights> packed_;
  std::vector<std::vector<float>> bias_;
  std::vector<std::vector<float>> act_buf_;
  kernels::QuantizedActs qa_;
};

struct EvalResult {
  double accuracy = 0, loss = 0;
};
// Runs forward(logits, x, B) over the whole set in batches.
template <typename Model>
EvalResult Evaluate(Model& model, const float* x, const int32_t* y, int64_t n, int64_t dim,
                    int64_t classes, int64_t batch);

}  // namespace t81::models

#include "t81/models/classifier_eval.h"
