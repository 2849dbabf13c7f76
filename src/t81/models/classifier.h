// A multilayer perceptron classifier (ReLU between layers) for benchmark 1, in three forms:
//   float training (FP32), QAT training (fake-quantized forward, straight-through backward, float
//   latent weights), and TernaryClassifier: packed ternary weights run by the kernel table.
// Widths: linear = 784 -> 10 (the seed's TinyClassifier), mlp = 784 -> 512 -> 256 -> 10.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/base/rng.h"
#include "t81/kernels/kernels.h"
#include "t81/nn/packed_linear.h"
#include "t81/quant/tq.h"

namespace t81::models {

struct ClassifierConfig {
  std::vector<int64_t> widths;  // input, hidden..., classes
};
Result<ClassifierConfig> ClassifierPreset(const std::string& name, int64_t input, int64_t classes);

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
                   const quant::TernaryOptions* qat);
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

class TernaryClassifier {
 public:
  TernaryClassifier(const Classifier& c, const quant::TernaryOptions& q, nn::ActPath act,
                    const kernels::KernelTable& kt);
  // logits (B, classes). Each layer: one kernel call, + bias, ReLU between layers.
  void Forward(float* logits, const float* x, int64_t B);
  int64_t Bytes() const;  // packed TQ payload (with scales and padding) + float biases

 private:
  ClassifierConfig cfg_;
  nn::ActPath act_;
  const kernels::KernelTable& kt_;
  std::vector<quant::TernaryMatrix> stored_;
  std::vector<kernels::PackedWeights> packed_;
  std::vector<std::vector<float>> bias_;
  std::vector<std::vector<float>> act_buf_;
  kernels::QuantizedActs qa_;
};

// Where a training run is, after each step.
struct TrainProgress {
  int epoch = 0, epochs = 0;      // 1-based epoch
  int64_t step = 0, steps = 0;    // 1-based step within the epoch
  double mean_loss = 0;           // over the epoch so far
  double elapsed_s = 0, eta_s = 0;
};
using ProgressFn = std::function<void(const TrainProgress&)>;

// Trains model for `epochs` passes over (x (n, dim), y (n)) in batches of `batch`, shuffled by
// rng, with SGD + momentum whose learning rate decays by a cosine over the whole run; qat != null
// trains through the fake quantizer (straight-through). Calls progress after every step; returns
// the seconds taken.
double TrainClassifier(Classifier& model, const float* x, const int32_t* y, int64_t n, int64_t dim, int64_t batch,
                       int epochs, const SgdConfig& opt, const quant::TernaryOptions* qat, base::Rng& rng,
                       const ProgressFn& progress);

struct EvalResult {
  double accuracy = 0, loss = 0;
};
// Runs forward(logits, x, B) over the whole set in batches.
template <typename Model>
EvalResult Evaluate(Model& model, const float* x, const int32_t* y, int64_t n, int64_t dim,
                    int64_t classes, int64_t batch);

}  // namespace t81::models

#include "t81/models/classifier_eval.h"
