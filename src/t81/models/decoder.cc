// DecoderLM: parameter layout and HF tensor map, training forward/backward, head, AdamW.
#include "t81/models/decoder.h"

#include <algorithm>
#include <cstring>

#include "t81/base/file.h"
#include "t81/base/memory.h"
#include "t81/base/rng.h"
#include "t81/io/safetensors.h"
#include "t81/models/gguf_names.h"
#include "t81/nn/layers.h"
#include "t81/nn/transformer.h"
#include "t81/quant/q8_0.h"

namespace t81::models {

namespace {
void AddInPlace(float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] += b[i];
}
}  // namespace

// What the training forward keeps for backward: one arena for every buffer (N = B·T rows).
struct DecoderLM::Acts {
  int64_t B = 0, T = 0, count = 0;
  bool has_labels = false;
  std::vector<int64_t> ids, labels, pos;  // (N)
  std::vector<float> buf;
  float* x0 = nullptr;                             // (N, C) embeddings
  std::vector<nn::BlockActs> blocks;               // (L)
  float *lnf = nullptr, *lnf_mean = nullptr, *lnf_rstd = nullptr;  // (N, C), (N), (N)
  float* probs = nullptr;                          // (N, V)
  // backward
  std::vector<float> dresid, dlnf, dlogits;
  nn::BlockGradScratch scratch;
};

DecoderLM::DecoderLM(DecoderConfig cfg) : cfg_(std::move(cfg)), block_(cfg_.block()), acts_(std::make_unique<Acts>()) {}
DecoderLM::~DecoderLM() = default;

nn::BlockParams DecoderLM::Block(int64_t l) { return nn::BlockParamsAt(block_, P(layer_off_[size_t(l)])); }
nn::BlockParams DecoderLM::GradBlock(int64_t l) {
  return nn::BlockParamsAt(block_, arena_.grads() + layer_off_[size_t(l)]);
}

const nn::RopeTable& DecoderLM::Rope(int64_t n) {
  if (rope_.hd != cfg_.HD || rope_.max_t < n) rope_ = nn::RopeTable(cfg_.HD, n, cfg_.rope_theta);
  return rope_;
}

void DecoderLM::Layout(bool with_arena) {
  const DecoderConfig& c = cfg_;
  ArenaLayout lay;
  auto take = [&lay](int64_t n) { return lay.Take(n); };
  off_wte_ = take(c.V * c.C);
  if (c.learned_pos()) off_wpe_ = take(c.max_t * c.C);
  off_lnf_w_ = take(c.C);
  if (c.layernorm()) off_lnf_b_ = take(c.C);
  if (!c.tied) off_head_ = take(c.V * c.C);
  layer_off_.clear();
  for (int64_t l = 0; l < c.L; ++l) layer_off_.push_back(take(nn::BlockParamCount(block_)));
  if (with_arena) {
    arena_.Resize(lay.size());  // zero, and not resident until written
    std::vector<nn::BlockParams> blocks;
    for (int64_t l = 0; l < c.L; ++l) blocks.push_back(Block(l));
    lin_.Bind(block_, std::move(blocks));
  }

  // The HF tensor map.
  hf_.clear();
  const nn::BlockOffsets bo = nn::BlockLayout(block_);
  auto add = [&](std::string name, std::vector<int64_t> shape, size_t o, int64_t cols, int64_t row0, int64_t nrows) -> HfTensor& {
    std::string gguf = GgufTensorName(name, c.arch);
    hf_.push_back({.name = std::move(name), .shape = std::move(shape), .offset = o, .cols = cols, .row0 = row0,
                   .nrows = nrows, .gguf = std::move(gguf)});
    return hf_.back();
  };
  auto vec = [&](std::string name, size_t o, int64_t n) -> HfTensor& { return add(std::move(name), {n}, o, 1, 0, n); };
  // A block linear (or a row range of a fused one); conv1d: HF stores it (in, out).
  auto lin = [&](std::string name, int64_t l, nn::BlockLinear k, int64_t row0, int64_t nrows, bool conv1d) -> HfTensor& {
    const int64_t cols = nn::LinearCols(block_, k);
    HfTensor& h = add(std::move(name), conv1d ? std::vector<int64_t>{cols, nrows} : std::vector<int64_t>{nrows, cols},
                      layer_off_[size_t(l)] + size_t(bo.weight(k)), cols, row0, nrows);
    h.transpose = conv1d;
    h.layer = l;
    h.linear = k;
    return h;
  };
  const int64_t C = c.C, Q = c.NH * c.HD, KV = c.NKV * c.HD;
  using nn::BlockLinear;
  for (int64_t l = 0; l < c.L; ++l) {
    auto at = [&](int64_t block_offset) { return layer_off_[size_t(l)] + size_t(block_offset); };
    if (c.arch == Arch::kGpt2) {
      const std::string p = "transformer.h." + std::to_string(l) + ".";
      vec(p + "ln_1.weight", at(bo.ln1_w), C).norm_weight = true;
      vec(p + "ln_1.bias", at(bo.ln1_b), C);
      lin(p + "attn.c_attn.weight", l, BlockLinear::kQkv, 0, 3 * C, true);
      vec(p + "attn.c_attn.bias", at(bo.qkv_b), 3 * C);
      lin(p + "attn.c_proj.weight", l, BlockLinear::kOut, 0, C, true);
      vec(p + "attn.c_proj.bias", at(bo.o_b), C);
      vec(p + "ln_2.weight", at(bo.ln2_w), C).norm_weight = true;
      vec(p + "ln_2.bias", at(bo.ln2_b), C);
      lin(p + "mlp.c_fc.weight", l, BlockLinear::kUp, 0, c.FF, true);
      vec(p + "mlp.c_fc.bias", at(bo.up_b), c.FF);
      lin(p + "mlp.c_proj.weight", l, BlockLinear::kDown, 0, C, true);
      vec(p + "mlp.c_proj.bias", at(bo.down_b), C);
      continue;
    }
    const std::string p = "model.layers." + std::to_string(l) + ".";
    vec(p + "input_layernorm.weight", at(bo.ln1_w), C).norm_weight = true;
    if (c.arch == Arch::kPhi3) {
      lin(p + "self_attn.qkv_proj.weight", l, BlockLinear::kQkv, 0, Q + 2 * KV, false);
    } else {
      // llama.cpp interleaves the rotary pairs of q and k rows (its converter permutes them).
      lin(p + "self_attn.q_proj.weight", l, BlockLinear::kQkv, 0, Q, false).rope_heads = c.NH;
      lin(p + "self_attn.k_proj.weight", l, BlockLinear::kQkv, Q, KV, false).rope_heads = c.NKV;
      lin(p + "self_attn.v_proj.weight", l, BlockLinear::kQkv, Q + KV, KV, false);
      if (c.attn_bias) {
        add(p + "self_attn.q_proj.bias", {Q}, at(bo.qkv_b), 1, 0, Q);
        add(p + "self_attn.k_proj.bias", {KV}, at(bo.qkv_b), 1, Q, KV);
        add(p + "self_attn.v_proj.bias", {KV}, at(bo.qkv_b), 1, Q + KV, KV);
      }
    }
    lin(p + "self_attn.o_proj.weight", l, BlockLinear::kOut, 0, C, false);
    if (c.attn_bias) vec(p + "self_attn.o_proj.bias", at(bo.o_b), C);
    vec(p + "post_attention_layernorm.weight", at(bo.ln2_w), C).norm_weight = true;
    if (c.arch == Arch::kPhi3) {
      lin(p + "mlp.gate_up_proj.weight", l, BlockLinear::kUp, 0, 2 * c.FF, false);
    } else {
      lin(p + "mlp.gate_proj.weight", l, BlockLinear::kUp, 0, c.FF, false);
      lin(p + "mlp.up_proj.weight", l, BlockLinear::kUp, c.FF, c.FF, false);
      if (c.mlp_bias) {
        add(p + "mlp.gate_proj.bias", {c.FF}, at(bo.up_b), 1, 0, c.FF);
        add(p + "mlp.up_proj.bias", {c.FF}, at(bo.up_b), 1, c.FF, c.FF);
      }
    }
    lin(p + "mlp.down_proj.weight", l, BlockLinear::kDown, 0, C, false);
    if (c.mlp_bias) vec(p + "mlp.down_proj.bias", at(bo.down_b), C);
  }
  if (c.arch == Arch::kGpt2) {
    add("transformer.wte.weight", {c.V, C}, off_wte_, C, 0, c.V);
    add("transformer.wpe.weight", {c.max_t, C}, off_wpe_, C, 0, c.max_t);
    add("transformer.ln_f.weight", {C}, off_lnf_w_, 1, 0, C).norm_weight = true;
    add("transformer.ln_f.bias", {C}, off_lnf_b_, 1, 0, C);
  } else {
    add("model.embed_tokens.weight", {c.V, C}, off_wte_, C, 0, c.V);
    add("model.norm.weight", {C}, off_lnf_w_, 1, 0, C).norm_weight = true;
  }
  if (!c.tied) add("lm_head.weight", {c.V, C}, off_head_, C, 0, c.V);
}

std::unique_ptr<DecoderLM> DecoderLM::Create(const DecoderConfig& cfg, uint64_t seed) {
  std::unique_ptr<DecoderLM> m(new DecoderLM(cfg));
  m->config_json_ = DecoderConfigJson(cfg);
  m->Layout();
  InitHfArena(m->hf_, seed, m->P(0));
  return m;
}

Status WriteInitCheckpoint(const DecoderConfig& cfg, uint64_t seed, io::DType dtype, const std::string& out_dir) {
  return WriteInitFolder(DecoderLM::HfTensorList(cfg), DecoderConfigJson(cfg), seed, dtype, out_dir);
}

std::vector<HfTensor> DecoderLM::HfTensorList(const DecoderConfig& cfg) {
  DecoderLM m(cfg);
  m.Layout(/*with_arena=*/false);  // offsets and names only
  return m.hf_;
}

std::vector<float> DecoderLM::TensorRows(const HfTensor& h) const {
  std::vector<float> rows(size_t(h.numel()));
  if (h.linear && lin_.from_file()) {  // d · t of the file's ternary weights
    const int64_t cols = nn::LinearCols(block_, *h.linear);
    std::vector<float> m(size_t(nn::LinearRows(block_, *h.linear) * cols));
    lin_.ReadMatrix(h.layer, *h.linear, m.data());
    std::copy(m.begin() + h.row0 * cols, m.begin() + (h.row0 + h.nrows) * cols, rows.begin());
  } else if (wte_src_ && h.offset == off_wte_) {  // the token embedding kept in file precision
    for (int64_t v = 0; v < h.nrows; ++v) wte_src_->Row(v, h.cols, rows.data() + v * h.cols);
  } else if (head_src_ && h.offset == off_head_ && !cfg_.tied) {  // the untied head, likewise
    for (int64_t v = 0; v < h.nrows; ++v) head_src_->Row(v, h.cols, rows.data() + v * h.cols);
  } else {
    const float* src = P(h.first());
    std::copy(src, src + h.numel(), rows.begin());
  }
  return rows;
}

std::vector<NamedTensor> DecoderLM::HfParams() const {
  std::vector<NamedTensor> out;
  out.reserve(hf_.size());
  for (const HfTensor& h : hf_) {
    NamedTensor n{h.name, h.shape, std::vector<float>(size_t(h.numel()))};
    RowsToHf(h, TensorRows(h).data(), n.values.data());
    out.push_back(std::move(n));
  }
  return out;
}

std::vector<NamedTensor> DecoderLM::HfGrads() const { return ExportHf(hf_, arena_.grads_if_any(), true); }

Status DecoderLM::Save(const std::string& out_dir) const { return SaveHfFolder(out_dir, config_json_, HfParams()); }

void DecoderLM::FileMatrix::Row(int64_t r, int64_t C, float* out) const {
  if (q8) kernels::DequantRow(*q8, r, out);
  else if (half) kernels::DequantRow(*half, r, out);
  else std::memcpy(out, f32 + r * C, size_t(C) * 4);
}

void DecoderLM::EmbedRow(int64_t id, float* x) const {
  if (wte_src_) wte_src_->Row(id, cfg_.C, x);
  else std::memcpy(x, P(off_wte_) + id * cfg_.C, size_t(cfg_.C) * 4);
}

Status DecoderLM::MaterializeFloat() {
  if (!wte_src_ && !head_src_ && !lin_.from_file()) return OkStatus();
  T81_RETURN_IF_ERROR(base::CheckFits(4 * int64_t(arena_.size()), "the model's float32 parameters"));
  // The same values the file's dequantizer gives (d · q, fp16 / bf16 -> fp32, or f32 as stored).
  if (wte_src_) {
    for (int64_t v = 0; v < cfg_.V; ++v) wte_src_->Row(v, cfg_.C, P(off_wte_) + v * cfg_.C);
    wte_src_ = nullptr;
  }
  if (head_src_) {
    for (int64_t v = 0; v < cfg_.V; ++v) head_src_->Row(v, cfg_.C, P(off_head_) + v * cfg_.C);
    head_src_ = nullptr;
  }
  lin_.MaterializeFloat();
  return OkStatus();
}

bool DecoderLM::HeadInFile() const {
  return head_file_ && (lin_.mode() == nn::LinearMode::kPacked || head_src_ || (cfg_.tied && wte_src_));
}

Status DecoderLM::SetLinearMode(nn::LinearMode mode, const quant::TernaryOptions& opt, nn::ActPath act) {
  T81_RETURN_IF_ERROR(quant::CheckTernaryOptions(opt));
  // File weights stay as stored where the mode runs them (packed: ternary or from 16-bit; float:
  // 16-bit weights); QAT, or float from ternary, needs float32 copies.
  const bool keep = mode == nn::LinearMode::kPacked || (mode == nn::LinearMode::kFloat && lin_.from_half());
  if (!keep) T81_RETURN_IF_ERROR(MaterializeFloat());
  return lin_.SetMode(mode, opt, act);
}

int64_t DecoderLM::WeightBytesPerToken() const {
  const DecoderConfig& c = cfg_;
  int64_t head = 4 * c.V * c.C;  // float (arena or mapped F32 file)
  if (head_q8_ && lin_.mode() == nn::LinearMode::kPacked)
    head = int64_t(head_q8_->codes.size() + (head_q8_->scales.size() + head_q8_->wsum.size()) * 4);
  else if (HeadInFile() && head_file_.q8)
    head = int64_t(head_file_.q8->codes.size() + (head_file_.q8->scales.size() + head_file_.q8->wsum.size()) * 4);
  else if (HeadInFile() && head_file_.half)
    head = int64_t(head_file_.half->h.size() * 2);
  const int64_t norms = 4 * c.C * (2 * c.L + 1) * (c.layernorm() ? 2 : 1);
  return lin_.BytesRead() + head + norms + 4 * c.C * (c.learned_pos() ? 2 : 1);
}

void DecoderLM::FinalNorm(float* out, float* mean, float* rstd, const float* x, int64_t n) const {
  if (cfg_.layernorm()) nn::LayerNormForward(out, mean, rstd, x, P(off_lnf_w_), P(off_lnf_b_), n, cfg_.C, cfg_.eps);
  else nn::RmsNormForward(out, rstd, x, P(off_lnf_w_), n, cfg_.C, cfg_.eps);
}

void DecoderLM::Head(float* logits, const float* x, int64_t n) {
  const DecoderConfig& c = cfg_;
  if (head_q8_ && lin_.mode() == nn::LinearMode::kPacked) {  // QuantizeHeadQ8
    kernels::QuantizeActsQ8(x, n, c.C, &head_acts_);
    kernels::GemmQ8(kernels::Active(), *head_q8_, head_acts_, logits, c.V);
    return;
  }
  const bool in_file = HeadInFile();
  if (head_file_.q8 && in_file) {
    kernels::QuantizeActsQ8(x, n, c.C, &head_acts_);
    kernels::GemmQ8(kernels::Active(), *head_file_.q8, head_acts_, logits, c.V);
    return;
  }
  if (head_file_.half && in_file) {
    kernels::GemmHalf(kernels::Active(), *head_file_.half, x, n, c.C, logits, c.V);
    return;
  }
  if (head_file_.f32 && in_file) {
    nn::LinearForward(logits, x, head_file_.f32, nullptr, n, c.C, c.V);
    return;
  }
  nn::LinearForward(logits, x, P(c.tied ? off_wte_ : off_head_), nullptr, n, c.C, c.V);
}

Result<double> DecoderLM::Forward(const int64_t* ids, const int64_t* labels, int64_t B, int64_t T) {
  const DecoderConfig& c = cfg_;
  if (B <= 0 || T <= 0) return Error("empty input");
  if (T > c.max_t)
    return Error("sequence length " + std::to_string(T) + " exceeds the model's " + std::to_string(c.max_t) + " positions");
  const int64_t N = B * T, C = c.C;
  for (int64_t i = 0; i < N; ++i) {
    if (ids[i] < 0 || ids[i] >= c.V)
      return Error("input id " + std::to_string(ids[i]) + " at " + std::to_string(i) + " is outside [0, " + std::to_string(c.V) + ")");
    if (labels && labels[i] != -100 && (labels[i] < 0 || labels[i] >= c.V))
      return Error("label " + std::to_string(labels[i]) + " at " + std::to_string(i) + " is outside [0, vocab) and not -100");
  }
  Acts& a = *acts_;
  if (a.B * a.T != N || a.T != T) {
    a.B = B;
    a.T = T;
    const int64_t per_block = nn::BlockActsFloats(block_, B, T);
    a.buf.assign(size_t(N * C + c.L * per_block + N * C + 2 * N + N * c.V), 0.0f);
    float* p = a.buf.data();
    a.x0 = p;
    p += N * C;
    a.blocks.clear();
    for (int64_t l = 0; l < c.L; ++l, p += per_block) a.blocks.push_back(nn::BlockActsAt(block_, B, T, p));
    a.lnf = p;
    a.lnf_mean = p + N * C;
    a.lnf_rstd = p + N * C + N;
    a.probs = p + N * C + 2 * N;
    logits_.assign(size_t(N * c.V), 0);
    a.pos.resize(size_t(N));
    for (int64_t i = 0; i < N; ++i) a.pos[size_t(i)] = i % T;
  }
  a.ids.assign(ids, ids + N);
  a.has_labels = labels != nullptr;
  if (labels) a.labels.assign(labels, labels + N);
  lin_.Refresh();  // QAT: fake-quantize the current weights

  for (int64_t i = 0; i < N; ++i) {
    float* x = a.x0 + i * C;
    EmbedRow(ids[i], x);
    if (c.learned_pos()) AddInPlace(x, P(off_wpe_) + a.pos[size_t(i)] * C, C);
  }
  const nn::Positions pos = Positions(a.pos.data(), T);
  const float* resid = a.x0;
  for (int64_t l = 0; l < c.L; ++l) {
    nn::BlockForward(block_, Block(l), lin_, l, a.blocks[size_t(l)], resid, B, T, pos);
    resid = a.blocks[size_t(l)].out;
  }
  FinalNorm(a.lnf, a.lnf_mean, a.lnf_rstd, resid, N);
  Head(logits_.data(), a.lnf, N);
  if (!labels) return 0.0;
  return nn::CausalLmLossForward(a.probs, logits_.data(), a.labels.data(), B, T, c.V, &a.count);
}

void DecoderLM::ZeroGrad() { arena_.ZeroGrad(); }

Status DecoderLM::Backward() {
  const DecoderConfig& c = cfg_;
  Acts& a = *acts_;
  if (!a.has_labels) return Error("Backward needs a Forward with labels");
  if (lin_.mode() == nn::LinearMode::kPacked) return Error("Backward is not available with packed ternary weights");
  T81_RETURN_IF_ERROR(MaterializeFloat());  // training runs on float32 weights (16-bit ones are exact in it)
  if (!arena_.has_grads())
    T81_RETURN_IF_ERROR(base::CheckFits(int64_t(arena_.size()) * 12, "training (gradients and AdamW moments, 12 bytes a parameter)"));
  float* g = arena_.grads();
  const int64_t N = a.B * a.T, C = c.C;
  auto zero = [](std::vector<float>& v, int64_t n) { v.assign(size_t(n), 0.0f); };
  zero(a.dlogits, N * c.V);
  nn::CausalLmLossBackward(a.dlogits.data(), a.probs, a.labels.data(), a.B, a.T, c.V, a.count);
  // Head.
  zero(a.dlnf, N * C);
  const size_t head = c.tied ? off_wte_ : off_head_;
  nn::LinearBackward(a.dlnf.data(), g + head, nullptr, a.dlogits.data(), a.lnf, P(head), N, C, c.V);
  // Final norm -> gradient of the residual stream.
  zero(a.dresid, N * C);
  const float* last = c.L ? a.blocks[size_t(c.L - 1)].out : a.x0;
  if (c.layernorm())
    nn::LayerNormBackward(a.dresid.data(), g + off_lnf_w_, g + off_lnf_b_, a.dlnf.data(), last, P(off_lnf_w_),
                          a.lnf_mean, a.lnf_rstd, N, C);
  else
    nn::RmsNormBackward(a.dresid.data(), g + off_lnf_w_, a.dlnf.data(), last, P(off_lnf_w_), a.lnf_rstd, N, C);
  const nn::Positions pos = Positions(a.pos.data(), a.T);
  for (int64_t l = c.L - 1; l >= 0; --l) {
    const float* inp = l == 0 ? a.x0 : a.blocks[size_t(l - 1)].out;
    nn::BlockBackward(block_, Block(l), GradBlock(l), lin_, l, a.blocks[size_t(l)], inp, a.dresid.data(), a.B, a.T,
                      pos, &a.scratch);
  }
  // Embeddings.
  for (int64_t i = 0; i < N; ++i) {
    AddInPlace(g + off_wte_ + a.ids[size_t(i)] * C, a.dresid.data() + i * C, C);
    if (c.learned_pos()) AddInPlace(g + off_wpe_ + a.pos[size_t(i)] * C, a.dresid.data() + i * C, C);
  }
  return OkStatus();
}

void DecoderLM::DecayMatricesOnly() { arena_.SetNoDecay(NoDecayRanges(hf_)); }

Status DecoderLM::QuantizeHeadQ8() {
  const DecoderConfig& c = cfg_;
  if (c.C % quant::kQ8Block) return Error("an 8-bit head needs a width divisible by 32 (n_embd " + std::to_string(c.C) + ")");
  if (head_q8_) return OkStatus();
  // Rows as the head runs them now: from the file's matrix when the float copy was never written
  // (a 16-bit checkpoint stays 16-bit), else from the arena.
  const FileMatrix* src = c.tied ? wte_src_ : head_src_;
  const int64_t row_bytes = c.C / quant::kQ8Block * quant::kQ8BlockBytes;
  std::vector<uint8_t> q(size_t(c.V * row_bytes));
  std::vector<float> row(static_cast<size_t>(c.C));
  for (int64_t v = 0; v < c.V; ++v) {
    if (src) src->Row(v, c.C, row.data());
    else std::memcpy(row.data(), P(c.tied ? off_wte_ : off_head_) + v * c.C, size_t(c.C) * 4);
    quant::QuantizeQ8_0(row.data(), c.C, q.data() + v * row_bytes);
  }
  head_q8_ = std::make_unique<kernels::Q8Weights>(kernels::RepackQ8_0(q.data(), c.V, c.C));
  return OkStatus();
}

Status DecoderLM::AdamWStep(double lr, double beta1, double beta2, double eps, double weight_decay) {
  T81_RETURN_IF_ERROR(MaterializeFloat());
  head_file_ = {};  // the float head and embedding are about to change
  embd_file_ = {};
  head_q8_.reset();
  gguf_.reset();
  arena_.AdamWStep(lr, beta1, beta2, eps, weight_decay);
  return OkStatus();
}

Result<Batch> DecoderLM::ReadBatch(const io::SafeTensorsFile& in, bool with_labels) const {
  const io::TensorInfo* t = in.Find("input.input_ids");
  if (!t) return Error(in.path() + ": missing tensor 'input.input_ids' (a causal LM needs token ids)");
  if (t->shape.size() != 2)
    return Error(in.path() + ": input.input_ids must be [B, T], got " + ShapeString(t->shape));
  Batch b;
  b.B = t->shape[0];
  b.T = t->shape[1];
  T81_ASSIGN_OR_RETURN(b.ids, in.ReadInt("input.input_ids"));
  if (with_labels) {
    const io::TensorInfo* l = in.Find("input.labels");
    if (!l) return Error(in.path() + ": missing tensor 'input.labels'");
    if (l->shape != t->shape) return Error(in.path() + ": input.labels must have the shape of input.input_ids");
    T81_ASSIGN_OR_RETURN(b.labels, in.ReadInt("input.labels"));
  }
  return b;
}

Result<double> DecoderLM::Forward(const Batch& b) {
  if (int64_t(b.ids.size()) != b.B * b.T) return Error("batch: input ids do not fill [B, T]");
  if (b.has_labels() && b.labels.size() != b.ids.size()) return Error("batch: labels do not match the input ids");
  return Forward(b.ids.data(), b.has_labels() ? b.labels.data() : nullptr, b.B, b.T);
}

std::vector<int64_t> DecoderLM::logits_shape() const { return {acts_->B, acts_->T, cfg_.V}; }

}  // namespace t81::models
