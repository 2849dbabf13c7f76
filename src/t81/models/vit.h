// Vision Transformer image classifier with Hugging Face ViTForImageClassification semantics:
// patch embedding (conv, stride = patch) -> [CLS] + patches + learned positions -> pre-LN encoder
// (bidirectional attention, exact-erf GELU MLP) -> final LayerNorm -> classifier on [CLS].
// Loads/saves the checkpoint names (vit.encoder.layer.N.attention.attention.query ...);
// gradients are exported under the module names transformers 5 uses for parameters
// (vit.layers.N.attention.q_proj ...), as the golden files have them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/models/decoder.h"

namespace t81::models {

struct VitConfig {
  int64_t C = 0, L = 0, NH = 0, FF = 0, image = 0, patch = 0, channels = 0, labels = 0;
  float eps = 1e-12f;
  int64_t grid() const { return image / patch; }
  int64_t patches() const { return grid() * grid(); }
  int64_t T() const { return patches() + 1; }
  int64_t patch_dim() const { return channels * patch * patch; }
};
Result<VitConfig> LoadVitConfig(const std::string& config_path);

class Vit {
 public:
  static Result<std::unique_ptr<Vit>> Load(const std::string& model_dir);
  ~Vit();
  const VitConfig& config() const { return cfg_; }
  int64_t num_params() const { return int64_t(params_.size()); }
  // As DecoderLM::SetLinearMode (kPacked: inference through the kernel table).
  void SetLinearMode(LinearMode mode, quant::Granularity g = quant::Granularity::kRow,
                     float threshold = quant::kDefaultThreshold, ActPath act = ActPath::kI8);

  // pixels (B, channels, image, image); labels (B) or null. Returns mean cross-entropy (0 without
  // labels); logits() is (B, labels).
  Result<double> Forward(const float* pixels, const int64_t* labels, int64_t B);
  const float* logits() const { return logits_.data(); }
  void ZeroGrad();
  void Backward();
  void AdamWStep(double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
                 double weight_decay = 0.0);

  using Named = DecoderLM::Named;
  std::vector<Named> HfParams() const;  // checkpoint names
  std::vector<Named> HfGrads() const;   // parameter (module) names
  Status Save(const std::string& out_dir) const;

 private:
  struct Acts;
  struct Entry {
    std::string ckpt_name, param_name;
    std::vector<int64_t> shape;
    size_t offset;
    int64_t cols, row0, nrows;
  };
  explicit Vit(VitConfig cfg);
  void Layout();
  const float* LinearWeight(int64_t l, int which);
  void Linear(float* out, const float* inp, int64_t l, int which, const float* bias, int64_t N, int64_t C,
              int64_t OC);
  std::vector<Named> Export(const std::vector<float>& src, bool param_names) const;

  VitConfig cfg_;
  std::string config_json_;
  std::vector<float> params_, grads_, m_, v_;
  std::vector<Entry> entries_;
  // offsets
  size_t off_patch_w_ = 0, off_patch_b_ = 0, off_cls_ = 0, off_pos_ = 0, off_lnf_w_ = 0, off_lnf_b_ = 0,
         off_cls_w_ = 0, off_cls_b_ = 0;
  struct LayerOff {
    size_t ln1_w, ln1_b, qkv_w, qkv_b, o_w, o_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
  };
  std::vector<LayerOff> layers_;
  LinearMode mode_ = LinearMode::kFloat;
  quant::Granularity qgran_ = quant::Granularity::kRow;
  float qthreshold_ = quant::kDefaultThreshold;
  std::vector<std::vector<float>> qweights_;
  std::vector<kernels::PackedWeights> packed_;
  ActPath act_ = ActPath::kI8;
  kernels::QuantizedActs qa_;
  int step_ = 0;
  std::unique_ptr<Acts> acts_;
  std::vector<float> logits_;
};

}  // namespace t81::models
