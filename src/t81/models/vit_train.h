// Training and evaluating a ViT image classifier (Vit) on an ImageSet, as `t81 train vit` and
// `t81 bench vit` do: AdamW (decay on matrices only), linear warm-up then cosine decay, global-norm
// clipping, cross-entropy with optional label smoothing, optional stochastic depth and an optional
// average of the weights (EMA);
// each epoch visits the training images in an order drawn from (seed, epoch) and each step's
// augmentation (random shift, horizontal flip, random erasing) from (seed, step) alone — so a run resumed from its state file continues bit for bit. QAT as the LM
// trainer's: fake-quantized block linears with the λ warm-up, straight-through gradients.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "t81/base/rng.h"
#include "t81/base/status.h"
#include "t81/data/images.h"
#include "t81/models/vit.h"
#include "t81/quant/ternary.h"

namespace t81::models {

struct VitTrainOptions {
  int64_t epochs = 10, batch = 128;
  int64_t max_steps = 0;    // 0: epochs × steps per epoch; else at most this many steps
  int64_t warmup = 200;     // steps of linear learning-rate warm-up
  double lr = 2e-3, min_lr = 1e-5;
  double weight_decay = 0.05, grad_clip = 1.0;
  double label_smoothing = 0.0;  // ε of the training loss (evaluation: plain cross-entropy)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  uint64_t seed = 0;
  int64_t max_train = 0;    // 0: every training image; else the first max_train
  int64_t shift = 2;        // augmentation: random translation by up to ±shift pixels (0: none)
  bool flip = true;         // augmentation: horizontal flip with probability 1/2
  double erase = 0;         // augmentation: random erasing (a rectangle of random pixels) with this probability
  double ema = 0;           // 0: none; else the decay of an average of the weights, which is evaluated and saved
  double drop_path = 0;     // stochastic depth: the last block's drop rate, rising linearly from 0 at the first
  double cutmix = 0;        // CutMix: the probability that an image gets a box of its batch partner's, labels mixed by area
  bool bf16 = false;        // the Linear products in bf16 on AMX (nn::MatmulPrecision::kBf16); f32 weights and sums
  bool qat = false;
  quant::TernaryOptions ternary;
  int64_t lambda_warmup = 0;  // 0: λ = 1 from the first step
};

// Random erasing (Zhong et al., 2017), in place on one preprocessed image (channels, S, S): a
// rectangle of 2–25 % of the image, aspect ratio log-uniform in [0.3, 3.3], the same in every
// channel, set to uniform random pixel values rescaled and normalized as p does.
void RandomErase(float* image, int64_t channels, int64_t S, const data::ImageProcessor& p, base::Rng* rng);

// Learning rate of step s of total: warm-up then cosine to min_lr.
double VitLearningRate(const VitTrainOptions& o, int64_t step, int64_t total);

struct VitEval {
  double loss = 0, accuracy = 0;
  int64_t images = 0;
  double seconds = 0;  // wall time of the forward passes (preprocessing included)
};

// Mean loss and accuracy of m (in its current linear mode) over the first max_images images of
// set (0: all), in batches of batch, preprocessed with p.
Result<VitEval> EvaluateVit(Vit* m, const data::ImageSet& set, const data::ImageProcessor& p, int64_t batch,
                            int64_t max_images);
// Batch-major model input of images [first, first + count) of set (shape checks included).
Status VitInputs(std::vector<float>* pixels, std::vector<int64_t>* labels, const Vit& m, const data::ImageSet& set,
                 const data::ImageProcessor& p, int64_t first, int64_t count);

// Fits only m's classifier (Adam on its weight and bias; the rest frozen, run in its current
// mode) on the [CLS] features of batches drawn from the first max_train images of train (0: all):
// a fresh head's baseline is then not at chance. Returns the mean loss of the last 10 steps.
struct HeadFitOptions {
  int64_t steps = 0, batch = 32, max_train = 0;
  double lr = 1e-3;
  uint64_t seed = 0;
};
Result<double> FitVitHead(Vit* m, const data::ImageSet& train, const data::ImageProcessor& p, const HeadFitOptions& o);

class VitTrainer {
 public:
  // m: a float model whose labels cover train's classes and whose channels / image size the
  // processor p produces. Sets the model's mode (float, or QAT) and its weight-decay ranges.
  static Result<VitTrainer> Create(Vit* m, const VitTrainOptions& o, const data::ImageSet* train,
                                   const data::ImageProcessor& p);

  int64_t steps_per_epoch() const { return spe_; }
  int64_t total_steps() const { return total_; }
  int64_t step() const { return step_; }
  int64_t images() const { return images_; }
  double elapsed_s() const { return elapsed_; }
  const VitTrainOptions& options() const { return o_; }
  float lambda() const;  // QAT's λ at the current step (1 without QAT)

  // One optimizer step on the next batch; returns its loss (before the update).
  Result<double> Step();
  // EvaluateVit with the weights currently in the model; its time counts in elapsed_s.
  Result<VitEval> Evaluate(const data::ImageSet& set, int64_t max_images);
  // With ema: exchanges the trained weights and their average in the model (call again to swap
  // back before the next Step or SaveState). Without: nothing.
  void SwapAverage();

  Status SaveState(const std::string& path) const;
  Status LoadState(const std::string& path);

 private:
  VitTrainer(Vit* m, const VitTrainOptions& o, const data::ImageSet* train, const data::ImageProcessor& p)
      : m_(m), o_(o), train_(train), proc_(p) {}
  std::string Fingerprint() const;
  void Augment(float* pixels, int64_t B);  // in place, (B, ch, H, W)
  void CutMix(float* pixels, int64_t B);   // in place; sets the model's mixed targets

  Vit* m_;
  VitTrainOptions o_;
  const data::ImageSet* train_;
  data::ImageProcessor proc_;
  int64_t n_ = 0, spe_ = 0, total_ = 0, step_ = 0, images_ = 0;
  double elapsed_ = 0;
  std::vector<int64_t> order_;  // the current epoch's image order
  int64_t order_epoch_ = -1;
  std::vector<float> pixels_, shifted_, unmixed_;
  std::vector<int64_t> idx_, labels_;
};

}  // namespace t81::models
