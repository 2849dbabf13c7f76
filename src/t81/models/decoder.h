// Decoder-only causal language models with Hugging Face semantics: GPT-2, Llama and Phi-3 in one
// engine — token embedding (+ learned positions for GPT-2), L transformer blocks (nn/block.h),
// final norm, head (tied to the embedding or its own):
//
//   x = tok_emb[ids] (+ pos_emb[t])
//   per block: x = Block(x)          (nn::BlockForward; RoPE for Llama / Phi-3)
//   logits = head(norm_f(x))
//
// Internally q, k, v are one fused (NH+2·NKV)·HD × C matrix and gate/up one 2·FF × C matrix, all
// weights (out, in); the HF names and layouts exist only in the tensor map (hf_tensors.h).
// The implementation is split by job: decoder.cc (layout, training forward/backward, head),
// decoder_load.cc (HF and t81 checkpoints), gguf_import.cc (GGUF files), decoder_generate.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/io/gguf.h"
#include "t81/kernels/kernels.h"
#include "t81/models/decoder_config.h"
#include "t81/models/hf_tensors.h"
#include "t81/models/model.h"
#include "t81/models/param_arena.h"
#include "t81/nn/block.h"
#include "t81/nn/block_linears.h"

namespace t81::models {

class DecoderLM : public Model {
 public:
  // Loads config.json + model.safetensors (or the shards of model.safetensors.index.json) into
  // float32 parameters. keep_precision (inference): a checkpoint whose block linears are all bf16
  // (or all fp16) keeps them, and a 16-bit embedding / head, as 16-bit weights run by the 16-bit
  // kernels — memory ≈ the checkpoint's bytes, not twice; they become float32 only if training
  // or a QAT mode asks for them.
  static Result<std::unique_ptr<DecoderLM>> Load(const std::string& model_dir, bool keep_precision = false);
  // Loads a GGUF file written for llama.cpp (gpt2, llama or phi3 architecture; F32, F16, Q8_0,
  // TQ1_0 or TQ2_0 tensors). Ternary block linears are run packed (kernel table) with exactly the
  // file's ternary values; float ones in float.
  static Result<std::unique_ptr<DecoderLM>> LoadGguf(const std::string& path);
  // Loads a t81 checkpoint written by ConvertCheckpoint (docs/formats.md): ternary block linears
  // run packed with exactly the stored trits and scales.
  static Result<std::unique_ptr<DecoderLM>> LoadT81(const std::string& dir);
  // The model's HF tensors for cfg (names, shapes and what each is), without any weights.
  static std::vector<HfTensor> HfTensorList(const DecoderConfig& cfg);
  // A freshly initialized model (InitHfValues: N(0, 0.02) matrices and embeddings, norms 1,
  // biases 0; deterministic in seed). config.json is DecoderConfigJson(cfg).
  static std::unique_ptr<DecoderLM> Create(const DecoderConfig& cfg, uint64_t seed);
  ~DecoderLM() override;

  const DecoderConfig& config() const { return cfg_; }
  const char* arch() const override { return ArchName(cfg_.arch); }
  int64_t num_params() const override { return int64_t(arena_.size()); }

  // kPacked ternarizes the current float weights with opt and repacks them for the kernel table
  // (a GGUF / t81 model keeps its file's ternary weights); act selects the kernels' activation
  // path. Backward is not available in kPacked.
  Status SetLinearMode(nn::LinearMode mode, const quant::TernaryOptions& opt = {},
                       nn::ActPath act = nn::ActPath::kI8) override;
  nn::LinearMode linear_mode() const { return lin_.mode(); }
  // Bytes of the block linears as stored in the current mode (float: 4/weight; packed: TQ blocks).
  int64_t LinearBytes() const { return lin_.Bytes(); }
  // Weight bytes one decoded token reads (block linears in their compute layout, norms, one
  // embedding row, the head in the precision it runs in); the KV cache comes on top.
  int64_t WeightBytesPerToken() const;

  // Training forward over ids (B, T). labels (B, T) or null; returns the causal-LM loss
  // (mean over shifted, non -100 labels), or 0 without labels. Saves what Backward needs.
  Result<double> Forward(const int64_t* ids, const int64_t* labels, int64_t B, int64_t T);
  Result<double> Forward(const Batch& b) override;
  Result<Batch> ReadBatch(const io::SafeTensorsFile& f, bool with_labels) const override;
  const float* logits() const override { return logits_.data(); }  // (B, T, V) of the last Forward
  std::vector<int64_t> logits_shape() const override;
  void ZeroGrad() override;
  // Accumulates d loss / d param into the gradients (after Forward with labels).
  Status Backward() override;
  Status AdamWStep(double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
                 double weight_decay = 0.0) override;

  // Training helpers (models/lm_train.h): QAT's λ (nn::BlockLinears::set_qat_lambda); global
  // gradient-norm clipping (returns the norm before clipping); weight decay on matrices and
  // embeddings only (not norms or biases, as GPT-2 recipes do); the parameters and AdamW state.
  void SetQatLambda(float lambda) { lin_.set_qat_lambda(lambda); }
  double ClipGradNorm(double max_norm) { return arena_.ClipGradNorm(max_norm); }
  void DecayMatricesOnly();
  ParamArena& arena() { return arena_; }

  // Packed inference with an 8-bit head: the head (the embedding when tied) quantized to Q8_0 as
  // GGUF export writes it, run by the Q8 kernels whenever the block linears are packed (float
  // and QAT modes keep their head; the embedding lookups are unchanged). No float copy is made
  // of a 16-bit checkpoint. Dropped by the next AdamWStep.
  Status QuantizeHeadQ8();
  bool head_q8() const { return bool(head_q8_); }

  // Greedy decoding with a KV cache: prompt then n_new argmax tokens; returns prompt + new.
  // If timing is given: seconds spent on the prompt (through the first new token) and on the
  // n_new - 1 single-token passes after it. If logits is given: (n_new, V), the logits each new
  // token was chosen from.
  struct GenTiming {
    double prompt_s = 0, eval_s = 0;
  };
  Result<std::vector<int64_t>> Generate(const std::vector<int64_t>& prompt, int64_t n_new,
                                        GenTiming* timing = nullptr, std::vector<float>* logits = nullptr);

  // Sampling options for GenerateStream: temperature 0 is greedy (argmax); else softmax(logits /
  // temperature) restricted to the top_k most likely tokens (0: all) and then to the smallest set
  // whose probability reaches top_p, sampled with a generator seeded by seed (same seed, same text).
  struct Sampling {
    double temperature = 0.0, top_p = 1.0;
    int64_t top_k = 0;
    uint64_t seed = 0;
    int64_t stop_id = -1;  // stop after producing this id (EOS); -1: never
  };
  // Decoding with a KV cache sized to prompt + n_new: on_token(id) is called for each new token as
  // it is produced (return false to stop). Returns the new ids; timing and logits as for Generate.
  Result<std::vector<int64_t>> GenerateStream(const std::vector<int64_t>& prompt, int64_t n_new, const Sampling& sp,
                                              const std::function<bool(int64_t)>& on_token, GenTiming* timing = nullptr,
                                              std::vector<float>* logits = nullptr);

  // Inference scoring (perplexity): ids (n) through the model with a KV cache, in chunks of rows
  // (no training activations: memory linear in n); adds -log p(ids[t] | ids[< t]) for t in
  // [first, n) to *nll and the count to *scored. first >= 1.
  Status ScoreTokens(const int64_t* ids, int64_t n, int64_t first, double* nll, int64_t* scored);

  // HF-named tensors: names and shapes in checkpoint layout, values from the parameters (a file-
  // loaded model shows its ternary / 8-bit values) or the gradients (zero before any Backward).
  std::vector<NamedTensor> HfParams() const override;
  std::vector<NamedTensor> HfGrads() const override;
  // The map itself: every HF tensor, what it is and where it lives.
  const std::vector<HfTensor>& hf_tensors() const { return hf_; }
  // Values of one tensor of the map in the internal orientation (nrows, cols): what HfParams
  // would give before RowsToHf.
  std::vector<float> TensorRows(const HfTensor& h) const;
  // Writes config.json (as loaded) and model.safetensors in HF layout.
  Status Save(const std::string& out_dir) const override;

 private:
  struct Acts;
  // A (V, C) matrix kept in its GGUF precision: Q8_0 or F16 repacked into kernel tiles, or F32
  // read in place from the mapped file (at most one is set).
  struct FileMatrix {
    std::unique_ptr<kernels::Q8Weights> q8;
    std::unique_ptr<kernels::HalfWeights> half;
    const float* f32 = nullptr;  // (V, C) row-major, inside gguf_
    explicit operator bool() const { return q8 || half || f32; }
    void Row(int64_t r, int64_t C, float* out) const;  // row r as floats (the file's dequantizer's values)
  };

  explicit DecoderLM(DecoderConfig cfg);
  // The model of dir/config.json, laid out, its parameters not read yet.
  static Result<std::unique_ptr<DecoderLM>> FromConfig(const std::string& dir);
  void Layout(bool with_arena = true);  // offsets, hf_; with_arena: sizes the arena, binds the blocks
  nn::BlockParams Block(int64_t l);
  nn::BlockParams GradBlock(int64_t l);
  float* P(size_t off) { return arena_.params() + off; }
  const float* P(size_t off) const { return arena_.params() + off; }
  // Writes what a file loader left out: file linears (d · t or 16-bit values), the token
  // embedding and the untied head. Refuses (before writing) if float32 copies cannot fit.
  Status MaterializeFloat();
  bool HeadInFile() const;  // the logits come from head_file_ (its float copy is not used)
  // Load's keep_precision path: 16-bit block linears, embedding and head as 16-bit weights.
  Status LoadHalf(const io::Checkpoint& ckpt, const std::string& dir, kernels::HalfType type);
  void EmbedRow(int64_t id, float* x) const;            // x (C) = the embedding row of token id
  void FinalNorm(float* out, float* mean, float* rstd, const float* x, int64_t n) const;
  void Head(float* logits, const float* x, int64_t n);  // logits (n, V) of normed x (n, C)
  // KV cache and scratch for one inference pass over up to TC positions, R rows at a time.
  struct InferState {
    int64_t TC = 0, R = 0, per_block = 0;
    std::vector<float> kc, vc;  // (L, NKV, TC, HD)
    std::vector<float> x;       // (R, C): the chunk's hidden rows
    std::vector<int64_t> pos;   // (R)
    nn::DecodeScratch s;
  };
  Status CheckIds(const int64_t* ids, int64_t n) const;
  void StartInfer(InferState* st, int64_t TC, int64_t R);
  // ids (n <= R) at positions [p0, p0 + n) through every block; st->x holds their last hidden rows.
  void InferChunk(InferState* st, const int64_t* ids, int64_t p0, int64_t n);
  // RoPE tables for positions [0, n) (Llama, Phi-3), grown as longer sequences arrive.
  const nn::RopeTable& Rope(int64_t n);
  nn::Positions Positions(const int64_t* pos, int64_t n) { return {pos, block_.rope ? &Rope(n) : nullptr}; }

  DecoderConfig cfg_;
  nn::BlockConfig block_;
  std::string config_json_;
  ParamArena arena_;
  std::vector<HfTensor> hf_;
  size_t off_wte_ = 0, off_wpe_ = 0, off_lnf_w_ = 0, off_lnf_b_ = 0, off_head_ = 0;  // into the arena
  std::vector<size_t> layer_off_;  // per block: start of its parameters
  nn::BlockLinears lin_;
  // The head and token embedding kept in file precision (LoadGguf with packed linears): the
  // logits come from GemmQ8 (activations quantized per 32 values, as llama.cpp does for a Q8_0
  // head), GemmHalf, or the F32 GEMV straight from the mapped file — and the arena's copies are
  // never written. head_file_ is the untied head or, when tied, the embedding; embd_file_ an
  // untied embedding.
  FileMatrix head_file_, embd_file_;
  // Non-null: the float token embedding / untied head were not written; their rows come from
  // here. MaterializeFloat writes them and clears these.
  const FileMatrix* wte_src_ = nullptr;
  const FileMatrix* head_src_ = nullptr;
  std::unique_ptr<io::GgufFile> gguf_;  // kept open while a FileMatrix reads F32 rows from it
  std::unique_ptr<kernels::Q8Weights> head_q8_;  // QuantizeHeadQ8: the head for packed mode
  kernels::Q8Acts head_acts_;
  nn::RopeTable rope_;
  std::unique_ptr<Acts> acts_;
  std::vector<float> logits_;
};

// The checkpoint of DecoderLM::Create(cfg, seed) written to out_dir (config.json +
// model.safetensors in dtype F32, F16 or BF16) tensor by tensor: memory is one tensor, whatever
// the model's size.
Status WriteInitCheckpoint(const DecoderConfig& cfg, uint64_t seed, io::DType dtype, const std::string& out_dir);

}  // namespace t81::models
