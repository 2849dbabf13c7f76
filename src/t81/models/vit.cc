#include "t81/models/vit.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "t81/base/json_limits.h"
#include "t81/base/file.h"
#include "t81/base/memory.h"
#include "t81/io/json_fields.h"
#include "t81/models/decoder_config.h"
#include "t81/io/safetensors.h"
#include "t81/nn/layers.h"
#include "t81/nn/transformer.h"

namespace t81::models {

nn::BlockConfig VitConfig::block() const {
  nn::BlockConfig b;
  b.C = C;
  b.NH = b.NKV = NH;
  b.HD = C / NH;
  b.FF = FF;
  b.norm = nn::Norm::kLayerNorm;
  b.act = nn::Activation::kGeluErf;
  b.causal = false;
  b.rope = false;
  b.attn_bias = b.mlp_bias = true;
  b.eps = eps;
  return b;
}

Result<VitConfig> LoadVitConfig(const std::string& path) {
  T81_ASSIGN_OR_RETURN(const nlohmann::json j, io::ReadJsonObject(path));
  const io::JsonFields f(j, path);
  T81_ASSIGN_OR_RETURN(const std::string type, f.String("model_type", ""));
  if (type != "vit") return Error(path + ": model_type is not vit");
  VitConfig c;
  T81_ASSIGN_OR_RETURN(c.C, f.PositiveInt("hidden_size"));
  T81_ASSIGN_OR_RETURN(c.L, f.PositiveInt("num_hidden_layers"));
  if (c.L > kMaxLayers)
    return Error(path + ": " + std::to_string(c.L) + " layers, more than t81's limit of " + std::to_string(kMaxLayers));
  T81_ASSIGN_OR_RETURN(c.NH, f.PositiveInt("num_attention_heads"));
  T81_ASSIGN_OR_RETURN(c.FF, f.PositiveInt("intermediate_size"));
  T81_ASSIGN_OR_RETURN(c.image, f.PositiveInt("image_size"));
  T81_ASSIGN_OR_RETURN(c.patch, f.PositiveInt("patch_size"));
  T81_ASSIGN_OR_RETURN(c.channels, f.PositiveInt("num_channels"));
  T81_ASSIGN_OR_RETURN(const nlohmann::json* id2label, f.Object("id2label"));
  if (f.Has("num_labels")) {
    T81_ASSIGN_OR_RETURN(c.labels, f.PositiveInt("num_labels"));
  } else {
    c.labels = id2label ? int64_t(id2label->size()) : 2;
  }
  T81_ASSIGN_OR_RETURN(const double eps, f.Number("layer_norm_eps", 1e-12));
  c.eps = float(eps);
  if (c.image % c.patch) return Error(path + ": image_size is not a multiple of patch_size");
  if (c.C % c.NH) return Error(path + ": hidden_size is not a multiple of num_attention_heads");
  T81_ASSIGN_OR_RETURN(const std::string act, f.String("hidden_act", "gelu"));
  if (act != "gelu") return Error(path + ": hidden_act must be gelu");
  T81_ASSIGN_OR_RETURN(const bool qkv_bias, f.Bool("qkv_bias", true));
  if (!qkv_bias) return Error(path + ": qkv_bias false is not supported");
  // Products in double: no tensor size computed from these fields may overflow int64.
  const double C = double(c.C), grid = double(c.image / c.patch);
  const double biggest = std::max({double(c.channels) * double(c.patch) * double(c.patch) * C, (grid * grid + 1) * C,
                                   3 * C * C, double(c.FF) * C, double(c.labels) * C});
  if (biggest > double(int64_t(1) << 40))
    return Error(path + ": a tensor of this model would hold more than 2^40 values (t81's limit)");
  return c;
}

Status CheckVitConfig(const VitConfig& c) {
  for (auto [v, n] : {std::pair{c.C, "width"}, {c.L, "layers"}, {c.NH, "heads"}, {c.FF, "MLP width"},
                      {c.image, "image size"}, {c.patch, "patch size"}, {c.channels, "channels"}, {c.labels, "labels"}})
    if (v <= 0) return Error(std::string("the ViT's ") + n + " must be positive");
  if (c.L > kMaxLayers) return Error("more than " + std::to_string(kMaxLayers) + " layers");
  if (c.image % c.patch)
    return Error("image size " + std::to_string(c.image) + " is not divisible by the patch size " + std::to_string(c.patch));
  if (c.C % c.NH) return Error("width " + std::to_string(c.C) + " is not a multiple of the head count " + std::to_string(c.NH));
  if (c.C > (1 << 16) || c.FF > (1 << 18) || c.image > (1 << 14) || c.channels > 64 || c.labels > (1 << 20))
    return Error("ViT sizes beyond t81's limits (width 65536, MLP 262144, image 16384, 64 channels, 2^20 labels)");
  return OkStatus();
}

std::string VitConfigJson(const VitConfig& c, const std::vector<std::string>& names) {
  nlohmann::ordered_json id2label = nlohmann::ordered_json::object(), label2id = nlohmann::ordered_json::object();
  for (int64_t i = 0; i < c.labels; ++i) {
    const std::string name = size_t(i) < names.size() ? names[size_t(i)] : "LABEL_" + std::to_string(i);
    id2label[std::to_string(i)] = name;
    label2id[name] = i;
  }
  const nlohmann::ordered_json j = {
      {"architectures", {"ViTForImageClassification"}}, {"model_type", "vit"}, {"hidden_size", c.C},
      {"num_hidden_layers", c.L}, {"num_attention_heads", c.NH}, {"intermediate_size", c.FF},
      {"hidden_act", "gelu"}, {"hidden_dropout_prob", 0.0}, {"attention_probs_dropout_prob", 0.0},
      {"initializer_range", 0.02}, {"layer_norm_eps", c.eps}, {"image_size", c.image}, {"patch_size", c.patch},
      {"num_channels", c.channels}, {"qkv_bias", true}, {"encoder_stride", c.patch}, {"num_labels", c.labels},
      {"id2label", id2label}, {"label2id", label2id}, {"torch_dtype", "float32"}};
  return j.dump(2) + "\n";
}

Status WriteVitInitCheckpoint(const VitConfig& cfg, uint64_t seed, io::DType dtype, const std::string& out_dir) {
  T81_RETURN_IF_ERROR(CheckVitConfig(cfg));
  return WriteInitFolder(Vit::HfTensorList(cfg), VitConfigJson(cfg), seed, dtype, out_dir);
}

// What the training forward keeps for backward (N = B·T rows), in one arena.
struct Vit::Acts {
  int64_t B = 0;
  Pass pass = Pass::kTrain;  // of the last Forward; kInfer: blocks holds one block's buffers
  std::vector<int64_t> labels;
  std::vector<float> buf;
  float* patches = nullptr;  // (B·NP, patch_dim)
  float* emb = nullptr;      // (B·NP, C) patch embeddings
  float* x0 = nullptr;       // (N, C)
  float* resid = nullptr;    // kInfer: (N, C) the residual stream between blocks
  std::vector<nn::BlockActs> blocks;  // kTrain: L; kInfer: 1
  float *lnf = nullptr, *lnf_mean = nullptr, *lnf_rstd = nullptr;  // (B, C), (B), (B): [CLS] rows only (sized N)
  float *cls = nullptr, *probs = nullptr;                          // (B, C), (B, labels)
  // backward
  std::vector<float> dresid, dlnf, dcls, dlogits, dpatch;
  nn::BlockGradScratch scratch;
};

Vit::Vit(VitConfig cfg) : cfg_(cfg), block_(cfg_.block()), acts_(std::make_unique<Acts>()) {}
Vit::~Vit() = default;

nn::BlockParams Vit::Block(int64_t l) { return nn::BlockParamsAt(block_, P(layer_off_[size_t(l)])); }
nn::BlockParams Vit::GradBlock(int64_t l) { return nn::BlockParamsAt(block_, arena_.grads() + layer_off_[size_t(l)]); }

void Vit::Layout(bool with_arena) {
  const VitConfig& c = cfg_;
  ArenaLayout lay;
  auto take = [&lay](int64_t n) { return lay.Take(n); };
  const int64_t C = c.C;
  off_patch_w_ = take(C * c.patch_dim());
  off_patch_b_ = take(C);
  off_cls_ = take(C);
  off_pos_ = take(c.T() * C);
  layer_off_.clear();
  for (int64_t l = 0; l < c.L; ++l) layer_off_.push_back(take(nn::BlockParamCount(block_)));
  off_lnf_w_ = take(C);
  off_lnf_b_ = take(C);
  off_head_w_ = take(c.labels * C);
  off_head_b_ = take(c.labels);
  if (with_arena) {
    arena_.Resize(lay.size());
    std::vector<nn::BlockParams> blocks;
    for (int64_t l = 0; l < c.L; ++l) blocks.push_back(Block(l));
    lin_.Bind(block_, std::move(blocks));
  }

  // The HF tensor map: checkpoint names, and the module names gradients go by.
  hf_.clear();
  auto add = [&](std::string ck, std::string pn, std::vector<int64_t> shape, size_t o, int64_t cols, int64_t row0,
                 int64_t nrows) -> HfTensor& {
    hf_.push_back({.name = std::move(ck), .grad_name = std::move(pn), .shape = std::move(shape), .offset = o,
                   .cols = cols, .row0 = row0, .nrows = nrows});
    return hf_.back();
  };
  auto same = [&](const std::string& name, std::vector<int64_t> shape, size_t o, int64_t cols, int64_t nrows) {
    add(name, name, std::move(shape), o, cols, 0, nrows);
  };
  same("vit.embeddings.cls_token", {1, 1, C}, off_cls_, C, 1);
  same("vit.embeddings.position_embeddings", {1, c.T(), C}, off_pos_, C, c.T());
  same("vit.embeddings.patch_embeddings.projection.weight", {C, c.channels, c.patch, c.patch}, off_patch_w_,
       c.patch_dim(), C);
  same("vit.embeddings.patch_embeddings.projection.bias", {C}, off_patch_b_, 1, C);
  const nn::BlockOffsets bo = nn::BlockLayout(block_);
  using nn::BlockLinear;
  for (int64_t l = 0; l < c.L; ++l) {
    auto at = [&](int64_t block_offset) { return layer_off_[size_t(l)] + size_t(block_offset); };
    const std::string ck = "vit.encoder.layer." + std::to_string(l) + ".";
    const std::string pn = "vit.layers." + std::to_string(l) + ".";
    auto lin = [&](const std::string& cn, const std::string& mn, BlockLinear k, int64_t row0, int64_t nrows) {
      const int64_t cols = nn::LinearCols(block_, k);
      HfTensor& h = add(ck + cn + ".weight", pn + mn + ".weight", {nrows, cols}, at(bo.weight(k)), cols, row0, nrows);
      h.layer = l;
      h.linear = k;
      add(ck + cn + ".bias", pn + mn + ".bias", {nrows}, at(bo.bias(k)), 1, row0, nrows);
    };
    const char* qkv_ck[3] = {"query", "key", "value"};
    const char* qkv_pn[3] = {"q_proj", "k_proj", "v_proj"};
    for (int k = 0; k < 3; ++k)
      lin(std::string("attention.attention.") + qkv_ck[k], std::string("attention.") + qkv_pn[k], BlockLinear::kQkv,
          k * C, C);
    lin("attention.output.dense", "attention.o_proj", BlockLinear::kOut, 0, C);
    add(ck + "layernorm_before.weight", pn + "layernorm_before.weight", {C}, at(bo.ln1_w), 1, 0, C).norm_weight = true;
    add(ck + "layernorm_before.bias", pn + "layernorm_before.bias", {C}, at(bo.ln1_b), 1, 0, C);
    add(ck + "layernorm_after.weight", pn + "layernorm_after.weight", {C}, at(bo.ln2_w), 1, 0, C).norm_weight = true;
    add(ck + "layernorm_after.bias", pn + "layernorm_after.bias", {C}, at(bo.ln2_b), 1, 0, C);
    lin("intermediate.dense", "mlp.fc1", BlockLinear::kUp, 0, c.FF);
    lin("output.dense", "mlp.fc2", BlockLinear::kDown, 0, C);
  }
  add("vit.layernorm.weight", "vit.layernorm.weight", {C}, off_lnf_w_, 1, 0, C).norm_weight = true;
  same("vit.layernorm.bias", {C}, off_lnf_b_, 1, C);
  same("classifier.weight", {c.labels, C}, off_head_w_, C, c.labels);
  same("classifier.bias", {c.labels}, off_head_b_, 1, c.labels);
}

std::vector<HfTensor> Vit::HfTensorList(const VitConfig& cfg) {
  Vit m(cfg);
  m.Layout(/*with_arena=*/false);
  return m.hf_;
}

Result<std::unique_ptr<Vit>> Vit::Load(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  T81_ASSIGN_OR_RETURN(VitConfig cfg, LoadVitConfig(cfg_path));
  int64_t params = 0;
  for (const HfTensor& h : HfTensorList(cfg)) params += h.numel();
  T81_RETURN_IF_ERROR(base::CheckFits(4 * params, dir + ": the model as float32 (" + std::to_string(params) + " parameters)"));
  std::unique_ptr<Vit> m(new Vit(cfg));
  T81_ASSIGN_OR_RETURN(m->config_json_, base::ReadFile(cfg_path, base::kMaxJsonBytes));
  m->Layout();
  T81_ASSIGN_OR_RETURN(io::Checkpoint ckpt, io::OpenCheckpoint(dir));  // one file or shards
  T81_RETURN_IF_ERROR(ReadHfTensors(m->hf_, ckpt, dir, m->arena_.params()));
  return m;
}

Result<std::unique_ptr<Vit>> Vit::Create(const VitConfig& cfg, uint64_t seed, const std::vector<std::string>& names) {
  T81_RETURN_IF_ERROR(CheckVitConfig(cfg));
  int64_t params = 0;
  for (const HfTensor& h : HfTensorList(cfg)) params += h.numel();
  T81_RETURN_IF_ERROR(base::CheckFits(4 * params, "a ViT of " + std::to_string(params) + " parameters as float32"));
  std::unique_ptr<Vit> m(new Vit(cfg));
  m->config_json_ = VitConfigJson(cfg, names);
  m->Layout();
  InitHfArena(m->hf_, seed, m->P(0));
  return m;
}

void Vit::DecayMatricesOnly() {
  arena_.SetNoDecay(NoDecayRanges(hf_, {"vit.embeddings.cls_token", "vit.embeddings.position_embeddings"}));
}

Status Vit::ResetHead(int64_t labels, uint64_t seed, const std::vector<std::string>& names) {
  VitConfig c = cfg_;
  c.labels = labels;
  T81_RETURN_IF_ERROR(CheckVitConfig(c));
  nlohmann::json j = nlohmann::json::parse(config_json_, nullptr, false);
  if (!j.is_object()) return Error("the model's config.json is not an object");
  const nlohmann::json fresh = nlohmann::json::parse(VitConfigJson(c, names));
  for (const char* k : {"num_labels", "id2label", "label2id"}) j[k] = fresh[k];
  const std::vector<float> keep(P(0), P(0) + off_head_w_);  // everything before the head
  cfg_ = c;
  config_json_ = j.dump(2) + "\n";
  Layout();  // the head is last: the layout before it is unchanged
  std::copy(keep.begin(), keep.end(), P(0));
  std::vector<float> v;
  for (size_t i = 0; i < hf_.size(); ++i) {
    const HfTensor& h = hf_[i];
    if (h.first() < off_head_w_) continue;
    v.resize(size_t(h.numel()));
    InitHfValues(h, i, seed, v.data());
    HfToRows(h, v.data(), P(h.first()));
  }
  acts_ = std::make_unique<Acts>();
  logits_.clear();
  return OkStatus();
}

std::vector<NamedTensor> Vit::HfParams() const { return ExportHf(hf_, arena_.params(), false); }

std::vector<NamedTensor> Vit::HfGrads() const { return ExportHf(hf_, arena_.grads_if_any(), true); }

Status Vit::Save(const std::string& out_dir) const { return SaveHfFolder(out_dir, config_json_, HfParams()); }

Status Vit::SetLinearMode(nn::LinearMode mode, const quant::TernaryOptions& opt, nn::ActPath act) {
  return lin_.SetMode(mode, opt, act);
}

Result<double> Vit::Forward(const float* pixels, const int64_t* labels, int64_t B, Pass pass) {
  const VitConfig& c = cfg_;
  if (B <= 0) return Error("empty batch");
  for (int64_t b = 0; labels && b < B; ++b)
    if (labels[b] < 0 || labels[b] >= c.labels)
      return Error("label " + std::to_string(labels[b]) + " is outside [0, " + std::to_string(c.labels) + ")");
  Acts& a = *acts_;
  const int64_t C = c.C, T = c.T(), N = B * T, NP = c.patches(), PD = c.patch_dim(), PS = c.patch, G = c.grid();
  const bool infer = pass == Pass::kInfer;
  if (a.B != B || a.pass != pass) {
    a.B = B;
    a.pass = pass;
    const int64_t per_block = nn::BlockActsFloats(block_, B, T), kept = infer ? 1 : c.L;
    a.buf.clear();
    a.buf.shrink_to_fit();  // release the other pass's buffers before sizing these
    a.buf.assign(size_t(B * NP * PD + B * NP * C + N * C + (infer ? N * C : 0) + kept * per_block + N * C + 2 * N +
                        B * C + B * c.labels),
                 0.0f);
    float* p = a.buf.data();
    auto take = [&p](int64_t n) {
      float* r = p;
      p += n;
      return r;
    };
    a.patches = take(B * NP * PD);
    a.emb = take(B * NP * C);
    a.x0 = take(N * C);
    a.resid = infer ? take(N * C) : nullptr;
    a.blocks.clear();
    for (int64_t l = 0; l < kept; ++l) a.blocks.push_back(nn::BlockActsAt(block_, B, T, take(per_block)));
    a.lnf = take(N * C);
    a.lnf_mean = take(N);
    a.lnf_rstd = take(N);
    a.cls = take(B * C);
    a.probs = take(B * c.labels);
    logits_.assign(size_t(B * c.labels), 0);
  }
  if (labels) a.labels.assign(labels, labels + B);
  else a.labels.clear();
  lin_.Refresh();  // QAT: fake-quantize the current weights
  // Patches in (channel, row, col) order, the flattening of the conv weight (C, ch, p, p).
  for (int64_t b = 0; b < B; ++b)
    for (int64_t py = 0; py < G; ++py)
      for (int64_t px = 0; px < G; ++px) {
        float* dst = a.patches + ((b * NP) + py * G + px) * PD;
        for (int64_t ch = 0; ch < c.channels; ++ch)
          for (int64_t i = 0; i < PS; ++i)
            for (int64_t j = 0; j < PS; ++j)
              *dst++ = pixels[((b * c.channels + ch) * c.image + py * PS + i) * c.image + px * PS + j];
      }
  nn::LinearForward(a.emb, a.patches, P(off_patch_w_), P(off_patch_b_), B * NP, PD, C);
  const float* pos = P(off_pos_);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      float* x = a.x0 + (b * T + t) * C;
      const float* src = t == 0 ? P(off_cls_) : a.emb + (b * NP + t - 1) * C;
      for (int64_t i = 0; i < C; ++i) x[i] = src[i] + pos[t * C + i];
    }
  const float* resid = a.x0;
  const float* keep = KeepFactors(infer, B);
  for (int64_t l = 0; l < c.L; ++l) {
    const nn::BlockActs& ba = a.blocks[infer ? 0 : size_t(l)];
    if (l == c.L - 1) {  // only [CLS] reaches the head: the last block computes its row alone
      nn::BlockForwardFirstRows(block_, Block(l), lin_, l, ba, resid, B, T, keep ? keep + l * 2 * B : nullptr);
      resid = ba.out;  // (B, C)
      break;
    }
    nn::BlockForward(block_, Block(l), lin_, l, ba, resid, B, T, {}, keep ? keep + l * 2 * B : nullptr);
    if (infer) {
      std::memcpy(a.resid, ba.out, size_t(N * C) * sizeof(float));  // the next block overwrites ba
      resid = a.resid;
    } else {
      resid = ba.out;
    }
  }
  // The final norm on the rows the head reads: (B, C) after the last block; (N, C) without blocks.
  const int64_t norm_rows = c.L > 0 ? B : N, cls_stride = c.L > 0 ? 1 : T;
  nn::LayerNormForward(a.lnf, a.lnf_mean, a.lnf_rstd, resid, P(off_lnf_w_), P(off_lnf_b_), norm_rows, C, c.eps);
  for (int64_t b = 0; b < B; ++b) std::memcpy(a.cls + b * C, a.lnf + b * cls_stride * C, size_t(C) * 4);
  nn::LinearForward(logits_.data(), a.cls, P(off_head_w_), P(off_head_b_), B, C, c.labels);
  if (!labels) return 0.0;
  std::vector<int32_t> y(labels, labels + B);
  nn::MixedTargets mix;
  return nn::SoftmaxCrossEntropyForward(a.probs, logits_.data(), y.data(), B, c.labels, infer ? 0.0f : label_smoothing_,
                                        Mix(infer, B, &mix));
}

void Vit::ZeroGrad() { arena_.ZeroGrad(); }

const nn::MixedTargets* Vit::Mix(bool infer, int64_t B, nn::MixedTargets* storage) const {
  if (infer || mix_labels_.empty()) return nullptr;
  T81_CHECK(int64_t(mix_labels_.size()) == B && int64_t(mix_lambda_.size()) == B);  // SetMixedTargets's batch
  for (int32_t y : mix_labels_) T81_CHECK(y >= 0 && y < cfg_.labels);
  storage->labels = mix_labels_.data();
  storage->lambda = mix_lambda_.data();
  return storage;
}

const float* Vit::KeepFactors(bool infer, int64_t B) const {
  if (infer || keep_.empty()) return nullptr;
  T81_CHECK(int64_t(keep_.size()) == cfg_.L * 2 * B);  // SetDropPath's batch is the pass's
  return keep_.data();
}

Status Vit::Backward() {
  const VitConfig& c = cfg_;
  Acts& a = *acts_;
  if (a.pass != Pass::kTrain || a.labels.empty()) return Error("Backward needs a training Forward (Pass::kTrain) with labels");
  if (lin_.mode() == nn::LinearMode::kPacked) return Error("Backward is not available with packed ternary weights");
  if (!arena_.has_grads())
    T81_RETURN_IF_ERROR(base::CheckFits(int64_t(arena_.size()) * 12, "training (gradients and AdamW moments, 12 bytes a parameter)"));
  float* g = arena_.grads();
  const int64_t B = a.B, C = c.C, T = c.T(), N = B * T, NP = c.patches(), PD = c.patch_dim();
  nn::ZeroFill(&a.dlogits, B * c.labels);
  std::vector<int32_t> y(a.labels.begin(), a.labels.end());
  nn::MixedTargets mix;
  nn::SoftmaxCrossEntropyBackward(a.dlogits.data(), a.probs, y.data(), B, c.labels, 1.0f / float(B), label_smoothing_,
                                  Mix(false, B, &mix));
  nn::ZeroFill(&a.dcls, B * C);
  nn::LinearBackward(a.dcls.data(), g + off_head_w_, g + off_head_b_, a.dlogits.data(), a.cls, P(off_head_w_), B, C,
                     c.labels);
  const int64_t norm_rows = c.L > 0 ? B : N, cls_stride = c.L > 0 ? 1 : T;  // as in Forward
  nn::ZeroFill(&a.dlnf, norm_rows * C);
  for (int64_t b = 0; b < B; ++b)
    std::memcpy(a.dlnf.data() + b * cls_stride * C, a.dcls.data() + b * C, size_t(C) * 4);
  nn::ZeroFill(&a.dresid, N * C);
  const float* last = c.L ? a.blocks[size_t(c.L - 1)].out : a.x0;
  nn::LayerNormBackward(a.dresid.data(), g + off_lnf_w_, g + off_lnf_b_, a.dlnf.data(), last, P(off_lnf_w_),
                        a.lnf_mean, a.lnf_rstd, norm_rows, C);
  const float* keep = KeepFactors(false, B);
  for (int64_t l = c.L - 1; l >= 0; --l) {
    const float* inp = l == 0 ? a.x0 : a.blocks[size_t(l - 1)].out;
    if (l == c.L - 1)
      nn::BlockBackwardFirstRows(block_, Block(l), GradBlock(l), lin_, l, a.blocks[size_t(l)], inp, a.dresid.data(), B,
                                 T, &a.scratch, keep ? keep + l * 2 * B : nullptr);
    else
      nn::BlockBackward(block_, Block(l), GradBlock(l), lin_, l, a.blocks[size_t(l)], inp, a.dresid.data(), B, T, {},
                        &a.scratch, keep ? keep + l * 2 * B : nullptr);
  }
  // Embeddings: x0 = [cls | patch·Wᵀ + b] + pos.
  float* gpos = g + off_pos_;
  float* gcls = g + off_cls_;
  nn::ZeroFill(&a.dpatch, B * NP * C);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const float* d = a.dresid.data() + (b * T + t) * C;
      for (int64_t i = 0; i < C; ++i) gpos[t * C + i] += d[i];
      float* dst = t == 0 ? gcls : a.dpatch.data() + (b * NP + t - 1) * C;
      for (int64_t i = 0; i < C; ++i) dst[i] += d[i];
    }
  nn::LinearBackward(nullptr, g + off_patch_w_, g + off_patch_b_, a.dpatch.data(), a.patches, P(off_patch_w_), B * NP,
                     PD, C);
  return OkStatus();
}

Status Vit::AdamWStep(double lr, double beta1, double beta2, double eps, double weight_decay) {
  arena_.AdamWStep(lr, beta1, beta2, eps, weight_decay);
  return OkStatus();
}

Result<Batch> Vit::ReadBatch(const io::SafeTensorsFile& in, bool with_labels) const {
  const io::TensorInfo* t = in.Find("input.pixel_values");
  if (!t) return Error(in.path() + ": missing tensor 'input.pixel_values' (a ViT needs images)");
  const VitConfig& c = cfg_;
  if (t->shape.size() != 4 || t->shape[1] != c.channels || t->shape[2] != c.image || t->shape[3] != c.image)
    return Error(in.path() + ": input.pixel_values has shape " + ShapeString(t->shape) + ", expected [B, " +
                 std::to_string(c.channels) + ", " + std::to_string(c.image) + ", " + std::to_string(c.image) + "]");
  Batch b;
  b.B = t->shape[0];
  T81_ASSIGN_OR_RETURN(b.pixels, in.ReadFloat("input.pixel_values"));
  if (with_labels) {
    if (!in.Find("input.labels")) return Error(in.path() + ": missing tensor 'input.labels'");
    T81_ASSIGN_OR_RETURN(b.labels, in.ReadInt("input.labels"));
    if (int64_t(b.labels.size()) != b.B) return Error(in.path() + ": input.labels must have one label per image");
  }
  return b;
}

Result<double> Vit::Forward(const Batch& b) {
  const VitConfig& c = cfg_;
  if (int64_t(b.pixels.size()) != b.B * c.channels * c.image * c.image) return Error("batch: pixels do not fill [B, ch, H, W]");
  if (b.has_labels() && int64_t(b.labels.size()) != b.B) return Error("batch: one label per image expected");
  return Forward(b.pixels.data(), b.has_labels() ? b.labels.data() : nullptr, b.B);
}

const float* Vit::cls_features() const { return acts_->cls; }

std::vector<int64_t> Vit::logits_shape() const { return {acts_->B, cfg_.labels}; }

}  // namespace t81::models
