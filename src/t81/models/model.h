// What every model offers the tools above the library (the CLI, the Python bindings): a batch in
// the PyTorch golden files' names in, logits and loss out, gradients, AdamW, Hugging Face tensors,
// save. DecoderLM (GPT-2, Llama, Phi-3) and Vit implement it; LoadModel picks by config.json.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/io/safetensors.h"
#include "t81/models/hf_tensors.h"
#include "t81/nn/block_linears.h"
#include "t81/quant/tq.h"

namespace t81::models {

// One batch: token ids (B, T) for causal LMs, or pixels (B, channels, H, W) for image
// classifiers (T = 0); labels (B, T) or (B), or empty.
struct Batch {
  int64_t B = 0, T = 0;
  std::vector<int64_t> ids;
  std::vector<float> pixels;
  std::vector<int64_t> labels;
  bool has_labels() const { return !labels.empty(); }
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const char* arch() const = 0;  // "gpt2", "llama", "phi3", "vit"
  virtual int64_t num_params() const = 0;

  // How the block linears run (nn/block_linears.h); errors for bad options.
  virtual Status SetLinearMode(nn::LinearMode mode, const quant::TernaryOptions& opt = {},
                               nn::ActPath act = nn::ActPath::kI8) = 0;
  // This model's inputs from a safetensors file (input.input_ids or input.pixel_values, and
  // input.labels when with_labels), shapes checked against the model.
  virtual Result<Batch> ReadBatch(const io::SafeTensorsFile& f, bool with_labels) const = 0;
  // Training forward; returns the mean loss (0 without labels) and keeps what Backward needs.
  virtual Result<double> Forward(const Batch& b) = 0;
  virtual const float* logits() const = 0;                  // of the last Forward
  virtual std::vector<int64_t> logits_shape() const = 0;    // of the last Forward
  virtual void ZeroGrad() = 0;
  // Accumulates d loss / d param (after a Forward with labels, in float or QAT mode).
  virtual Status Backward() = 0;
  // One torch.optim.AdamW step over every parameter.
  virtual Status AdamWStep(double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
                         double weight_decay = 0.0) = 0;
  virtual std::vector<NamedTensor> HfParams() const = 0;  // checkpoint names and layouts
  virtual std::vector<NamedTensor> HfGrads() const = 0;   // gradients, as the golden files name them
  virtual Status Save(const std::string& out_dir) const = 0;  // config.json + model.safetensors
};

// Writes a Hugging Face model folder: config.json (as given) and model.safetensors (F32).
Status SaveHfFolder(const std::string& out_dir, const std::string& config_json, const std::vector<NamedTensor>& tensors);

// config.json's model_type in dir.
Result<std::string> ReadModelType(const std::string& dir);
// What a model folder's config.json describes, without any weights: its architecture and the HF
// tensors (names, shapes, what each is). Reads config.json only.
struct ModelLayout {
  std::string arch;
  std::vector<HfTensor> tensors;
  int64_t num_params() const;
};
Result<ModelLayout> ReadModelLayout(const std::string& dir);
// A Hugging Face model folder (config.json + model.safetensors or shards): GPT-2, Llama, Phi-3, ViT.
// keep_precision (inference): a decoder's 16-bit checkpoint stays 16-bit (DecoderLM::Load).
Result<std::unique_ptr<Model>> LoadModel(const std::string& dir, bool keep_precision = false);

}  // namespace t81::models
