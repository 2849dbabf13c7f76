// Vision Transformer image classifier with Hugging Face ViTForImageClassification semantics:
// patch embedding (conv, stride = patch) -> [CLS] + patches + learned positions -> L transformer
// blocks (nn/block.h: pre-LN, bidirectional attention, exact-erf GELU MLP) -> final LayerNorm ->
// classifier on [CLS]. Loads/saves the checkpoint names (vit.encoder.layer.N.attention.attention.
// query ...); gradients are exported under the module names transformers 5 uses for parameters
// (vit.layers.N.attention.q_proj ...), as the golden files have them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/models/model.h"
#include "t81/models/param_arena.h"
#include "t81/nn/block.h"

namespace t81::models {

struct VitConfig {
  int64_t C = 0, L = 0, NH = 0, FF = 0, image = 0, patch = 0, channels = 0, labels = 0;
  float eps = 1e-12f;
  int64_t grid() const { return image / patch; }
  int64_t patches() const { return grid() * grid(); }
  int64_t T() const { return patches() + 1; }
  int64_t patch_dim() const { return channels * patch * patch; }
  nn::BlockConfig block() const;
};
Result<VitConfig> LoadVitConfig(const std::string& config_path);
// Checks a config made here (sizes positive, image a multiple of patch, width of heads, limits).
Status CheckVitConfig(const VitConfig& c);
// config.json of a ViTForImageClassification (transformers' keys; id2label from label_names, or
// LABEL_i when empty).
std::string VitConfigJson(const VitConfig& c, const std::vector<std::string>& label_names = {});
// A random ViT of cfg written tensor by tensor (InitHfValues; dtype f32 / bf16 / f16).
Status WriteVitInitCheckpoint(const VitConfig& cfg, uint64_t seed, io::DType dtype, const std::string& out_dir);

class Vit : public Model {
 public:
  static Result<std::unique_ptr<Vit>> Load(const std::string& model_dir);
  // A freshly initialized ViT, the values WriteVitInitCheckpoint writes for the same seed.
  static Result<std::unique_ptr<Vit>> Create(const VitConfig& cfg, uint64_t seed,
                                             const std::vector<std::string>& label_names = {});
  // The model's HF tensors for cfg (names, shapes and what each is), without any weights.
  static std::vector<HfTensor> HfTensorList(const VitConfig& cfg);
  ~Vit() override;
  const VitConfig& config() const { return cfg_; }
  const char* arch() const override { return "vit"; }
  int64_t num_params() const override { return int64_t(arena_.size()); }
  // As DecoderLM::SetLinearMode (kPacked: inference through the kernel table).
  Status SetLinearMode(nn::LinearMode mode, const quant::TernaryOptions& opt = {},
                       nn::ActPath act = nn::ActPath::kI8) override;

  // kTrain keeps every block's activations for Backward; kInfer keeps one block's (evaluation,
  // throughput, feature extraction: memory of one block, not L).
  enum class Pass { kTrain, kInfer };
  // pixels (B, channels, image, image); labels (B) or null. Returns mean cross-entropy (0 without
  // labels); logits() is (B, labels).
  Result<double> Forward(const float* pixels, const int64_t* labels, int64_t B, Pass pass = Pass::kTrain);
  Result<double> Forward(const Batch& b) override;
  Result<Batch> ReadBatch(const io::SafeTensorsFile& f, bool with_labels) const override;
  const float* logits() const override { return logits_.data(); }
  std::vector<int64_t> logits_shape() const override;
  void ZeroGrad() override;
  Status Backward() override;
  Status AdamWStep(double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
                 double weight_decay = 0.0) override;

  // Training helpers, as DecoderLM's: QAT's λ, gradient clipping, weight decay on matrices only
  // (not on norms, biases, the [CLS] token or the positions).
  void SetQatLambda(float lambda) { lin_.set_qat_lambda(lambda); }
  // Label smoothing ε of the training pass's loss and gradient (evaluation stays plain
  // cross-entropy).
  void SetLabelSmoothing(float e) { label_smoothing_ = e; }
  // Stochastic depth of the next training passes: keep (L, 2, B) the per-sample branch factors of
  // every block (nn::BlockForward's keep), for batches of B; empty: none. Inference ignores it.
  void SetDropPath(std::vector<float> keep) { keep_ = std::move(keep); }
  // CutMix targets of the next training passes: sample b's loss is λ_b·CE(its label) +
  // (1 − λ_b)·CE(labels[b]) (nn::MixedTargets), for batches of B; empty: plain labels. Inference
  // ignores them.
  void SetMixedTargets(std::vector<int32_t> labels, std::vector<float> lambda) {
    mix_labels_ = std::move(labels);
    mix_lambda_ = std::move(lambda);
  }
  double ClipGradNorm(double max_norm) { return arena_.ClipGradNorm(max_norm); }
  void DecayMatricesOnly();
  ParamArena& arena() { return arena_; }
  // A fresh classifier of `labels` outputs (HF init: N(0, 0.02) weight, zero bias; seed), the rest
  // kept — transformers' ignore_mismatched_sizes. Drops gradients and optimizer state.
  Status ResetHead(int64_t labels, uint64_t seed, const std::vector<std::string>& label_names = {});
  // The final-LayerNorm [CLS] rows of the last Forward (B, C): the classifier's input.
  const float* cls_features() const;
  // The classifier in the arena: weight (labels, C), bias (labels).
  float* head_weight() { return P(off_head_w_); }
  float* head_bias() { return P(off_head_b_); }
  // Bytes of the block linears as they run now (packed: TQ blocks; else 4 a weight).
  int64_t LinearBytes() const { return lin_.Bytes(); }

  std::vector<NamedTensor> HfParams() const override;  // checkpoint names
  std::vector<NamedTensor> HfGrads() const override;   // parameter (module) names
  Status Save(const std::string& out_dir) const override;

 private:
  struct Acts;
  explicit Vit(VitConfig cfg);
  void Layout(bool with_arena = true);  // offsets, hf_; with_arena: sizes the arena, binds the blocks
  nn::BlockParams Block(int64_t l);
  nn::BlockParams GradBlock(int64_t l);
  float* P(size_t off) { return arena_.params() + off; }

  VitConfig cfg_;
  nn::BlockConfig block_;
  std::string config_json_;
  ParamArena arena_;
  std::vector<HfTensor> hf_;
  size_t off_patch_w_ = 0, off_patch_b_ = 0, off_cls_ = 0, off_pos_ = 0, off_lnf_w_ = 0, off_lnf_b_ = 0,
         off_head_w_ = 0, off_head_b_ = 0;  // into the arena
  std::vector<size_t> layer_off_;
  nn::BlockLinears lin_;
  std::unique_ptr<Acts> acts_;
  std::vector<float> logits_;
  float label_smoothing_ = 0.0f;
  std::vector<float> keep_;  // stochastic depth factors (L, 2, B) or empty
  std::vector<int32_t> mix_labels_;  // CutMix's second labels (B) or empty
  std::vector<float> mix_lambda_;    // their complements' weights λ (B)
  // The mixed targets for a training pass of B, or null.
  const nn::MixedTargets* Mix(bool infer, int64_t B, nn::MixedTargets* storage) const;
  const float* KeepFactors(bool infer, int64_t B) const;  // keep_ for a training pass of B, or null
};

}  // namespace t81::models
