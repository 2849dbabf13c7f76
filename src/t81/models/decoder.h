// Decoder-only causal language models with Hugging Face semantics: GPT-2, Llama and Phi-3 in one
// engine (they differ in norm, position encoding, MLP and biases, not in structure).
//
//   x = tok_emb[ids] (+ pos_emb[t] for GPT-2)
//   per layer: x += o_proj(Attention(rope(qkv(norm1(x)))));  x += mlp(norm2(x))
//   logits = head(norm_f(x))          head = tok_emb (tied) or lm_head
// GPT-2: LayerNorm, learned positions, gelu_new MLP, biases, Conv1D weights stored (in, out).
// Llama / Phi-3: RMSNorm, RoPE (rotate_half), SwiGLU, grouped-query attention, no biases.
// Internally q, k, v are one fused (NH+2·NKV)·HD × C matrix and gate/up one 2·FF × C matrix, all
// weights (out, in); the HF names and layouts exist only at load/save/gradient export.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "t81/base/aligned.h"
#include "t81/base/status.h"
#include "t81/kernels/kernels.h"
#include "t81/models/classifier.h"
#include "t81/quant/ternary.h"

namespace t81::models {

enum class Arch : uint8_t { kGpt2, kLlama, kPhi3 };
const char* ArchName(Arch a);

struct DecoderConfig {
  Arch arch = Arch::kGpt2;
  int64_t V = 0, C = 0, L = 0, NH = 0, NKV = 0, HD = 0, FF = 0, max_t = 0;
  float eps = 1e-5f;
  double rope_theta = 10000.0;
  bool tied = true;
  bool gelu_erf = false;  // GPT-2 activation "gelu" (erf) instead of gelu_new (tanh)
  bool attn_bias = false, mlp_bias = false;

  bool layernorm() const { return arch == Arch::kGpt2; }
  bool learned_pos() const { return arch == Arch::kGpt2; }
  bool swiglu() const { return arch != Arch::kGpt2; }
  int64_t qkv_dim() const { return (NH + 2 * NKV) * HD; }
  int64_t fc_dim() const { return swiglu() ? 2 * FF : FF; }
};

// Reads config.json (HF field names; both rope_parameters and top-level rope_theta accepted).
Result<DecoderConfig> LoadDecoderConfig(const std::string& config_path);
// The HF config.json text for cfg (inverse of LoadDecoderConfig).
std::string DecoderConfigJson(const DecoderConfig& cfg);

// How every linear layer of the transformer blocks runs.
enum class LinearMode : uint8_t {
  kFloat,  // float32 weights (OpenBLAS)
  kQat,    // forward with FakeQuantize(weight), straight-through gradient to the float weight
  kPacked, // inference only: ternarized once (TQ2_0), run by the packed kernel table
};

struct HfTensorMap;  // internal: one HF tensor <-> a slice of an internal tensor

class DecoderLM {
 public:
  // Loads config.json + model.safetensors (or the shards of model.safetensors.index.json).
  static Result<std::unique_ptr<DecoderLM>> Load(const std::string& model_dir);
  // Loads a GGUF file written for llama.cpp (gpt2, llama or phi3 architecture; F32, F16, Q8_0,
  // TQ1_0 or TQ2_0 tensors). Ternary block linears are run packed (kernel table) with exactly the
  // file's ternary values; float ones in float.
  static Result<std::unique_ptr<DecoderLM>> LoadGguf(const std::string& path);
  // Loads a t81 checkpoint written by ConvertCheckpoint (docs/formats.md): ternary block linears
  // run packed with exactly the stored trits and scales.
  static Result<std::unique_ptr<DecoderLM>> LoadT81(const std::string& dir);
  // The model's HF tensors (checkpoint names and shapes) for cfg, without any weights.
  static std::vector<std::pair<std::string, std::vector<int64_t>>> HfTensorList(const DecoderConfig& cfg);
  // A freshly initialized model (HF init: N(0, 0.02) matrices and embeddings, norms 1, biases 0;
  // deterministic in seed). config_json is what Save writes as config.json.
  static std::unique_ptr<DecoderLM> Create(const DecoderConfig& cfg, uint64_t seed);
  ~DecoderLM();

  const DecoderConfig& config() const { return cfg_; }
  int64_t num_params() const { return int64_t(params_.size()); }

  // kPacked ternarizes the current float weights with (g, threshold) and repacks them for the
  // kernel table; act selects the kernels' activation path. Backward is not available in kPacked.
  void SetLinearMode(LinearMode mode, quant::Granularity g = quant::Granularity::kRow,
                     float threshold = quant::kDefaultThreshold, ActPath act = ActPath::kI8);
  // Bytes of the block linears as stored in the current mode (float: 4/weight; packed: TQ2_0).
  int64_t LinearBytes() const;

  // Training forward over ids (B, T). labels (B, T) or null; returns the causal-LM loss
  // (mean over shifted, non -100 labels), or 0 without labels. Saves what Backward needs.
  Result<double> Forward(const int64_t* ids, const int64_t* labels, int64_t B, int64_t T);
  const float* logits() const { return logits_.data(); }  // (B, T, V) of the last Forward
  void ZeroGrad();
  // Accumulates d loss / d param into the gradients (after Forward with labels).
  void Backward();
  // One torch.optim.AdamW step over every parameter (step counter kept inside).
  void AdamWStep(double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
                 double weight_decay = 0.0);

  // Greedy decoding with a KV cache: prompt then n_new argmax tokens; returns prompt + new.
  // If timing is given: seconds spent on the prompt (through the first new token) and on the
  // n_new - 1 single-token passes after it. If logits is given:
  // (n_new, V), the logits each new token was chosen from.
  struct GenTiming {
    double prompt_s = 0, eval_s = 0;
  };
  Result<std::vector<int64_t>> Generate(const std::vector<int64_t>& prompt, int64_t n_new,
                                        GenTiming* timing = nullptr, std::vector<float>* logits = nullptr);

  // HF-named tensors: names and shapes in checkpoint layout, values from the parameters or the
  // gradients (transposed / split / tied exactly as the HF model stores them).
  struct Named {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;
  };
  std::vector<Named> HfParams() const;
  std::vector<Named> HfGrads() const;
  // Writes config.json (copied) and model.safetensors in HF layout.
  Status Save(const std::string& out_dir) const;

 private:
  struct Layer {
    float *ln1_w, *ln1_b, *qkv_w, *qkv_b, *o_w, *o_b, *ln2_w, *ln2_b, *fc_w, *fc_b, *proj_w, *proj_b;
  };
  struct Acts;
  explicit DecoderLM(DecoderConfig cfg);
  void Layout();
  Layer LayerAt(const base::ZeroedFloats& arena, int64_t l) const;
  // Whether an HF tensor is (part of) a block linear, and which: layer l, which 0 qkv, 1 o,
  // 2 fc / gate_up, 3 proj / down.
  bool BlockLinearOf(const HfTensorMap& h, int64_t* l, int* which) const;
  const float* LinearWeight(int64_t l, int which);  // which: 0 qkv, 1 o, 2 fc, 3 proj
  // out (N, OC) = inp (N, C) · Wᵀ + bias through the current LinearMode.
  void Linear(float* out, const float* inp, int64_t l, int which, const float* bias, int64_t N, int64_t C,
              int64_t OC);
  std::vector<Named> Export(const base::ZeroedFloats& src) const;

  DecoderConfig cfg_;
  std::string config_json_;
  base::ZeroedFloats params_, grads_, m_, v_;  // one arena each (see Layout)
  std::vector<HfTensorMap> hf_;
  // offsets into the arenas
  size_t off_wte_ = 0, off_wpe_ = 0, off_lnf_w_ = 0, off_lnf_b_ = 0, off_head_ = 0;
  std::vector<size_t> layer_off_;  // per layer: start of its block
  size_t layer_size_ = 0;
  LinearMode mode_ = LinearMode::kFloat;
  quant::Granularity qgran_ = quant::Granularity::kRow;
  float qthreshold_ = quant::kDefaultThreshold;
  std::vector<std::vector<float>> qweights_;  // (L·4) fake-quantized weights of the last Forward
  std::vector<quant::TqFormat> packed_fmt_;     // (L·4) kPacked: storage format of each matrix
  std::vector<kernels::PackedWeights> packed_;  // (L·4) kPacked: compute layout
  ActPath act_ = ActPath::kI8;
  bool packed_from_file_ = false;  // packed_ came from a GGUF file; float block linears not written
  void MaterializeFloat();         // writes what loading left out: linears d · t, wte from wte_src_
  void EmbedRow(int64_t id, float* x) const;  // x (C) = the embedding row of token id
  // File loaders: an empty TQ matrix of the full shape of block linear `which`; then run the
  // assembled matrices (L·4, layer-major) packed, as the file's exact ternary weights.
  void StartTernary(int which, quant::TqFormat fmt, quant::TernaryMatrix* t) const;
  void UseFileTernary(std::vector<quant::TernaryMatrix> tern);
  kernels::QuantizedActs qa_;
  // A (V, C) matrix kept in its GGUF precision: Q8_0 or F16 (at most one is set).
  struct FileMatrix {
    std::unique_ptr<kernels::Q8Weights> q8;
    std::unique_ptr<kernels::F16Weights> f16;
    explicit operator bool() const { return q8 || f16; }
  };
  // The head so kept (LoadGguf, when the file stores it as Q8_0 or F16): with packed linears the
  // logits come from GemmQ8 (activations quantized per 32 values, as llama.cpp does for a Q8_0
  // head) or GemmF16 instead of the float head — 4× / 2× fewer bytes per token. An untied token
  // embedding is kept in embd_file_. Both are dropped when the float parameters change (AdamWStep).
  FileMatrix head_file_, embd_file_;
  // Non-null: the float token embedding was not written; its rows come from here (head_file_ when
  // tied). MaterializeFloat writes it and clears this.
  const FileMatrix* wte_src_ = nullptr;
  kernels::Q8Acts head_acts_;
  void Head(float* logits, const float* x, int64_t n);  // logits (n, V) of normed x (n, C)
  int step_ = 0;
  std::unique_ptr<Acts> acts_;
  std::vector<float> logits_;
};

}  // namespace t81::models
