#include "t81/models/vit.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "t81/base/file.h"
#include "t81/io/safetensors.h"
#include "t81/nn/layers.h"
#include "t81/nn/transformer.h"

namespace t81::models {

Result<VitConfig> LoadVitConfig(const std::string& path) {
  T81_ASSIGN_OR_RETURN(std::string text, base::ReadFile(path));
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(path + ": not a JSON object");
  if (j.value("model_type", "") != "vit") return Error(path + ": model_type is not vit");
  VitConfig c;
  auto get = [&](const char* key, int64_t* out) -> Status {
    if (!j.contains(key) || !j[key].is_number_integer() || j[key].get<int64_t>() <= 0)
      return Error(path + ": field '" + key + "' missing or not a positive integer");
    *out = j[key].get<int64_t>();
    return OkStatus();
  };
  T81_RETURN_IF_ERROR(get("hidden_size", &c.C));
  T81_RETURN_IF_ERROR(get("num_hidden_layers", &c.L));
  T81_RETURN_IF_ERROR(get("num_attention_heads", &c.NH));
  T81_RETURN_IF_ERROR(get("intermediate_size", &c.FF));
  T81_RETURN_IF_ERROR(get("image_size", &c.image));
  T81_RETURN_IF_ERROR(get("patch_size", &c.patch));
  T81_RETURN_IF_ERROR(get("num_channels", &c.channels));
  if (j.contains("num_labels") && j["num_labels"].is_number_integer()) c.labels = j["num_labels"].get<int64_t>();
  else if (j.contains("id2label") && j["id2label"].is_object()) c.labels = int64_t(j["id2label"].size());
  else c.labels = 2;
  c.eps = float(j.value("layer_norm_eps", 1e-12));
  if (c.image % c.patch) return Error(path + ": image_size is not a multiple of patch_size");
  if (c.C % c.NH) return Error(path + ": hidden_size is not a multiple of num_attention_heads");
  if (j.value("hidden_act", "gelu") != "gelu") return Error(path + ": hidden_act must be gelu");
  if (!j.value("qkv_bias", true)) return Error(path + ": qkv_bias false is not supported");
  return c;
}

struct Vit::Acts {
  int64_t B = 0;
  std::vector<int64_t> labels;
  std::vector<float> patches, x0;  // (B·np, patch_dim), (B·T, C)
  std::vector<std::vector<float>> ln1, ln1_mean, ln1_rstd, qkv, att, atty, res1, ln2, ln2_mean, ln2_rstd, fc,
      act, res2;
  std::vector<float> lnf, lnf_mean, lnf_rstd, cls, probs;
  std::vector<float> dresid, dnorm, dqkv, datty, dfc, dact, dlnf, dcls, dlogits, dpatch;
};

Vit::Vit(VitConfig cfg) : cfg_(cfg), acts_(std::make_unique<Acts>()) {}
Vit::~Vit() = default;

void Vit::Layout() {
  const VitConfig& c = cfg_;
  size_t off = 0;
  auto take = [&](int64_t n) {
    const size_t o = off;
    off += size_t(n);
    return o;
  };
  auto add = [&](std::string ck, std::string pn, std::vector<int64_t> shape, size_t o, int64_t cols, int64_t row0,
                 int64_t nrows) { entries_.push_back({std::move(ck), std::move(pn), std::move(shape), o, cols, row0, nrows}); };
  const int64_t C = c.C;
  off_patch_w_ = take(C * c.patch_dim());
  off_patch_b_ = take(C);
  off_cls_ = take(C);
  off_pos_ = take(c.T() * C);
  add("vit.embeddings.cls_token", "vit.embeddings.cls_token", {1, 1, C}, off_cls_, C, 0, 1);
  add("vit.embeddings.position_embeddings", "vit.embeddings.position_embeddings", {1, c.T(), C}, off_pos_, C, 0, c.T());
  add("vit.embeddings.patch_embeddings.projection.weight", "vit.embeddings.patch_embeddings.projection.weight",
      {C, c.channels, c.patch, c.patch}, off_patch_w_, c.patch_dim(), 0, C);
  add("vit.embeddings.patch_embeddings.projection.bias", "vit.embeddings.patch_embeddings.projection.bias", {C},
      off_patch_b_, 1, 0, C);
  for (int64_t l = 0; l < c.L; ++l) {
    LayerOff lo;
    lo.ln1_w = take(C);
    lo.ln1_b = take(C);
    lo.qkv_w = take(3 * C * C);
    lo.qkv_b = take(3 * C);
    lo.o_w = take(C * C);
    lo.o_b = take(C);
    lo.ln2_w = take(C);
    lo.ln2_b = take(C);
    lo.fc1_w = take(c.FF * C);
    lo.fc1_b = take(c.FF);
    lo.fc2_w = take(C * c.FF);
    lo.fc2_b = take(C);
    layers_.push_back(lo);
    const std::string ck = "vit.encoder.layer." + std::to_string(l) + ".";
    const std::string pn = "vit.layers." + std::to_string(l) + ".";
    const char* qkv_ck[3] = {"query", "key", "value"};
    const char* qkv_pn[3] = {"q_proj", "k_proj", "v_proj"};
    for (int k = 0; k < 3; ++k) {
      add(ck + "attention.attention." + qkv_ck[k] + ".weight", pn + "attention." + qkv_pn[k] + ".weight", {C, C},
          lo.qkv_w, C, k * C, C);
      add(ck + "attention.attention." + qkv_ck[k] + ".bias", pn + "attention." + qkv_pn[k] + ".bias", {C}, lo.qkv_b,
          1, k * C, C);
    }
    add(ck + "attention.output.dense.weight", pn + "attention.o_proj.weight", {C, C}, lo.o_w, C, 0, C);
    add(ck + "attention.output.dense.bias", pn + "attention.o_proj.bias", {C}, lo.o_b, 1, 0, C);
    add(ck + "layernorm_before.weight", pn + "layernorm_before.weight", {C}, lo.ln1_w, 1, 0, C);
    add(ck + "layernorm_before.bias", pn + "layernorm_before.bias", {C}, lo.ln1_b, 1, 0, C);
    add(ck + "layernorm_after.weight", pn + "layernorm_after.weight", {C}, lo.ln2_w, 1, 0, C);
    add(ck + "layernorm_after.bias", pn + "layernorm_after.bias", {C}, lo.ln2_b, 1, 0, C);
    add(ck + "intermediate.dense.weight", pn + "mlp.fc1.weight", {c.FF, C}, lo.fc1_w, C, 0, c.FF);
    add(ck + "intermediate.dense.bias", pn + "mlp.fc1.bias", {c.FF}, lo.fc1_b, 1, 0, c.FF);
    add(ck + "output.dense.weight", pn + "mlp.fc2.weight", {C, c.FF}, lo.fc2_w, c.FF, 0, C);
    add(ck + "output.dense.bias", pn + "mlp.fc2.bias", {C}, lo.fc2_b, 1, 0, C);
  }
  off_lnf_w_ = take(C);
  off_lnf_b_ = take(C);
  off_cls_w_ = take(c.labels * C);
  off_cls_b_ = take(c.labels);
  add("vit.layernorm.weight", "vit.layernorm.weight", {C}, off_lnf_w_, 1, 0, C);
  add("vit.layernorm.bias", "vit.layernorm.bias", {C}, off_lnf_b_, 1, 0, C);
  add("classifier.weight", "classifier.weight", {c.labels, C}, off_cls_w_, C, 0, c.labels);
  add("classifier.bias", "classifier.bias", {c.labels}, off_cls_b_, 1, 0, c.labels);
  params_.assign(off, 0.0f);
  grads_.assign(off, 0.0f);
  m_.assign(off, 0.0f);
  v_.assign(off, 0.0f);
}

Result<std::unique_ptr<Vit>> Vit::Load(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  T81_ASSIGN_OR_RETURN(VitConfig cfg, LoadVitConfig(cfg_path));
  std::unique_ptr<Vit> m(new Vit(cfg));
  T81_ASSIGN_OR_RETURN(m->config_json_, base::ReadFile(cfg_path));
  m->Layout();
  T81_ASSIGN_OR_RETURN(auto f, io::SafeTensorsFile::Open(dir + "/model.safetensors"));
  for (const Entry& e : m->entries_) {
    const io::TensorInfo* t = f->Find(e.ckpt_name);
    if (!t) return Error(f->path() + ": missing tensor '" + e.ckpt_name + "'");
    if (t->shape != e.shape) return Error(f->path() + ": tensor '" + e.ckpt_name + "' has a shape that disagrees with config.json");
    T81_ASSIGN_OR_RETURN(std::vector<float> vals, f->ReadFloat(e.ckpt_name));
    std::memcpy(m->params_.data() + e.offset + e.row0 * e.cols, vals.data(), vals.size() * 4);
  }
  return m;
}

std::vector<Vit::Named> Vit::Export(const std::vector<float>& src, bool param_names) const {
  std::vector<Named> out;
  for (const Entry& e : entries_) {
    Named n{param_names ? e.param_name : e.ckpt_name, e.shape, {}};
    const float* s = src.data() + e.offset + e.row0 * e.cols;
    n.values.assign(s, s + e.nrows * e.cols);
    out.push_back(std::move(n));
  }
  return out;
}
std::vector<Vit::Named> Vit::HfParams() const { return Export(params_, false); }
std::vector<Vit::Named> Vit::HfGrads() const { return Export(grads_, true); }

Status Vit::Save(const std::string& out_dir) const {
  io::SafeTensorsWriter w;
  w.SetMetadata("format", "pt");
  for (const Named& n : HfParams()) w.AddF32(n.name, n.shape, n.values.data());
  T81_RETURN_IF_ERROR(base::WriteFileAtomic(out_dir + "/config.json", config_json_));
  return w.Write(out_dir + "/model.safetensors");
}

void Vit::SetLinearMode(LinearMode mode, quant::Granularity g, float threshold, ActPath act) {
  mode_ = mode;
  qgran_ = g;
  qthreshold_ = threshold;
  act_ = act;
  packed_.clear();
  if (mode != LinearMode::kPacked) return;
  const int64_t C = cfg_.C, rows[4] = {3 * C, C, cfg_.FF, C}, cols[4] = {C, C, C, cfg_.FF};
  for (const LayerOff& lo : layers_) {
    const size_t off[4] = {lo.qkv_w, lo.o_w, lo.fc1_w, lo.fc2_w};
    for (int k = 0; k < 4; ++k)
      packed_.push_back(kernels::Repack(
          quant::QuantizeMatrix(params_.data() + off[k], rows[k], cols[k], g, threshold, quant::TqFormat::kTq2_0)));
  }
}

void Vit::Linear(float* out, const float* inp, int64_t l, int which, const float* bias, int64_t N, int64_t C,
                 int64_t OC) {
  if (mode_ != LinearMode::kPacked) {
    nn::LinearForward(out, inp, LinearWeight(l, which), bias, N, C, OC);
    return;
  }
  T81_CHECK(packed_[size_t(l * 4 + which)].n == OC);
  PackedLinear(kernels::Active(), packed_[size_t(l * 4 + which)], act_, inp, N, C, bias, out, &qa_);
}

const float* Vit::LinearWeight(int64_t l, int which) {
  const LayerOff& lo = layers_[size_t(l)];
  const size_t off[4] = {lo.qkv_w, lo.o_w, lo.fc1_w, lo.fc2_w};
  if (mode_ == LinearMode::kFloat) return params_.data() + off[which];
  return qweights_[size_t(l * 4 + which)].data();
}

Result<double> Vit::Forward(const float* pixels, const int64_t* labels, int64_t B) {
  const VitConfig& c = cfg_;
  if (B <= 0) return Error("empty batch");
  for (int64_t b = 0; labels && b < B; ++b)
    if (labels[b] < 0 || labels[b] >= c.labels)
      return Error("label " + std::to_string(labels[b]) + " is outside [0, " + std::to_string(c.labels) + ")");
  Acts& a = *acts_;
  const int64_t C = c.C, T = c.T(), N = B * T, NP = c.patches(), PD = c.patch_dim(), P = c.patch, G = c.grid();
  if (a.B != B) {
    a.B = B;
    a.patches.assign(size_t(B * NP * PD), 0);
    a.x0.assign(size_t(N * C), 0);
    auto per_layer = [&](std::vector<std::vector<float>>& v, int64_t n) { v.assign(size_t(c.L), std::vector<float>(size_t(n))); };
    per_layer(a.ln1, N * C);
    per_layer(a.ln1_mean, N);
    per_layer(a.ln1_rstd, N);
    per_layer(a.qkv, N * 3 * C);
    per_layer(a.att, B * c.NH * T * T);
    per_layer(a.atty, N * C);
    per_layer(a.res1, N * C);
    per_layer(a.ln2, N * C);
    per_layer(a.ln2_mean, N);
    per_layer(a.ln2_rstd, N);
    per_layer(a.fc, N * c.FF);
    per_layer(a.act, N * c.FF);
    per_layer(a.res2, N * C);
    a.lnf.assign(size_t(N * C), 0);
    a.lnf_mean.assign(size_t(N), 0);
    a.lnf_rstd.assign(size_t(N), 0);
    a.cls.assign(size_t(B * C), 0);
    a.probs.assign(size_t(B * c.labels), 0);
    logits_.assign(size_t(B * c.labels), 0);
  }
  if (labels) a.labels.assign(labels, labels + B);
  else a.labels.clear();
  if (mode_ == LinearMode::kQat) {
    qweights_.resize(size_t(c.L * 4));
    const int64_t rows[4] = {3 * C, C, c.FF, C}, cols[4] = {C, C, C, c.FF};
    for (int64_t l = 0; l < c.L; ++l) {
      const LayerOff& lo = layers_[size_t(l)];
      const size_t off[4] = {lo.qkv_w, lo.o_w, lo.fc1_w, lo.fc2_w};
      for (int k = 0; k < 4; ++k) {
        auto& q = qweights_[size_t(l * 4 + k)];
        q.resize(size_t(rows[k] * cols[k]));
        quant::FakeQuantize(params_.data() + off[k], rows[k], cols[k], qgran_, qthreshold_, q.data());
      }
    }
  }
  // Patches in (channel, row, col) order, the flattening of the conv weight (C, ch, p, p).
  for (int64_t b = 0; b < B; ++b)
    for (int64_t py = 0; py < G; ++py)
      for (int64_t px = 0; px < G; ++px) {
        float* dst = a.patches.data() + ((b * NP) + py * G + px) * PD;
        for (int64_t ch = 0; ch < c.channels; ++ch)
          for (int64_t i = 0; i < P; ++i)
            for (int64_t j = 0; j < P; ++j)
              *dst++ = pixels[((b * c.channels + ch) * c.image + py * P + i) * c.image + px * P + j];
      }
  std::vector<float> emb(size_t(B * NP * C));
  nn::LinearForward(emb.data(), a.patches.data(), params_.data() + off_patch_w_, params_.data() + off_patch_b_, B * NP, PD, C);
  const float* pos = params_.data() + off_pos_;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      float* x = a.x0.data() + (b * T + t) * C;
      const float* src = t == 0 ? params_.data() + off_cls_ : emb.data() + (b * NP + t - 1) * C;
      for (int64_t i = 0; i < C; ++i) x[i] = src[i] + pos[t * C + i];
    }
  const float* resid = a.x0.data();
  for (int64_t l = 0; l < c.L; ++l) {
    const size_t L = size_t(l);
    const LayerOff& lo = layers_[L];
    const float* p = params_.data();
    nn::LayerNormForward(a.ln1[L].data(), a.ln1_mean[L].data(), a.ln1_rstd[L].data(), resid, p + lo.ln1_w, p + lo.ln1_b, N, C, c.eps);
    Linear(a.qkv[L].data(), a.ln1[L].data(), l, 0, p + lo.qkv_b, N, C, 3 * C);
    nn::AttentionForward(a.atty[L].data(), a.att[L].data(), a.qkv[L].data(), B, T, c.NH, c.NH, C / c.NH, false);
    Linear(a.res1[L].data(), a.atty[L].data(), l, 1, p + lo.o_b, N, C, C);
    for (int64_t i = 0; i < N * C; ++i) a.res1[L][size_t(i)] += resid[i];
    nn::LayerNormForward(a.ln2[L].data(), a.ln2_mean[L].data(), a.ln2_rstd[L].data(), a.res1[L].data(), p + lo.ln2_w, p + lo.ln2_b, N, C, c.eps);
    Linear(a.fc[L].data(), a.ln2[L].data(), l, 2, p + lo.fc1_b, N, C, c.FF);
    nn::GeluErfForward(a.act[L].data(), a.fc[L].data(), N * c.FF);
    Linear(a.res2[L].data(), a.act[L].data(), l, 3, p + lo.fc2_b, N, c.FF, C);
    for (int64_t i = 0; i < N * C; ++i) a.res2[L][size_t(i)] += a.res1[L][size_t(i)];
    resid = a.res2[L].data();
  }
  nn::LayerNormForward(a.lnf.data(), a.lnf_mean.data(), a.lnf_rstd.data(), resid, params_.data() + off_lnf_w_,
                       params_.data() + off_lnf_b_, N, C, c.eps);
  for (int64_t b = 0; b < B; ++b) std::memcpy(a.cls.data() + b * C, a.lnf.data() + b * T * C, size_t(C) * 4);
  nn::LinearForward(logits_.data(), a.cls.data(), params_.data() + off_cls_w_, params_.data() + off_cls_b_, B, C, c.labels);
  if (!labels) return 0.0;
  std::vector<int32_t> y(labels, labels + B);
  return nn::SoftmaxCrossEntropyForward(a.probs.data(), logits_.data(), y.data(), B, c.labels);
}

void Vit::ZeroGrad() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

void Vit::Backward() {
  const VitConfig& c = cfg_;
  Acts& a = *acts_;
  T81_CHECK(!a.labels.empty(), "Backward needs a Forward with labels");
  T81_CHECK(mode_ != LinearMode::kPacked, "Backward is not available with packed ternary weights");
  const int64_t B = a.B, C = c.C, T = c.T(), N = B * T, NP = c.patches(), PD = c.patch_dim();
  auto zero = [](std::vector<float>& v, int64_t n) { v.assign(size_t(n), 0.0f); };
  zero(a.dlogits, B * c.labels);
  std::vector<int32_t> y(a.labels.begin(), a.labels.end());
  nn::SoftmaxCrossEntropyBackward(a.dlogits.data(), a.probs.data(), y.data(), B, c.labels, 1.0f / float(B));
  zero(a.dcls, B * C);
  nn::LinearBackward(a.dcls.data(), grads_.data() + off_cls_w_, grads_.data() + off_cls_b_, a.dlogits.data(), a.cls.data(),
                     params_.data() + off_cls_w_, B, C, c.labels);
  zero(a.dlnf, N * C);
  for (int64_t b = 0; b < B; ++b) std::memcpy(a.dlnf.data() + b * T * C, a.dcls.data() + b * C, size_t(C) * 4);
  zero(a.dresid, N * C);
  const float* last = c.L ? a.res2[size_t(c.L - 1)].data() : a.x0.data();
  nn::LayerNormBackward(a.dresid.data(), grads_.data() + off_lnf_w_, grads_.data() + off_lnf_b_, a.dlnf.data(), last,
                        params_.data() + off_lnf_w_, a.lnf_mean.data(), a.lnf_rstd.data(), N, C);
  for (int64_t l = c.L - 1; l >= 0; --l) {
    const size_t L = size_t(l);
    const LayerOff& lo = layers_[L];
    const float* p = params_.data();
    float* g = grads_.data();
    const float* resid_in = l == 0 ? a.x0.data() : a.res2[L - 1].data();
    zero(a.dact, N * c.FF);
    nn::LinearBackward(a.dact.data(), g + lo.fc2_w, g + lo.fc2_b, a.dresid.data(), a.act[L].data(), LinearWeight(l, 3), N, c.FF, C);
    zero(a.dfc, N * c.FF);
    nn::GeluErfBackward(a.dfc.data(), a.fc[L].data(), a.dact.data(), N * c.FF);
    zero(a.dnorm, N * C);
    nn::LinearBackward(a.dnorm.data(), g + lo.fc1_w, g + lo.fc1_b, a.dfc.data(), a.ln2[L].data(), LinearWeight(l, 2), N, C, c.FF);
    nn::LayerNormBackward(a.dresid.data(), g + lo.ln2_w, g + lo.ln2_b, a.dnorm.data(), a.res1[L].data(), p + lo.ln2_w,
                          a.ln2_mean[L].data(), a.ln2_rstd[L].data(), N, C);
    zero(a.datty, N * C);
    nn::LinearBackward(a.datty.data(), g + lo.o_w, g + lo.o_b, a.dresid.data(), a.atty[L].data(), LinearWeight(l, 1), N, C, C);
    zero(a.dqkv, N * 3 * C);
    nn::AttentionBackward(a.dqkv.data(), a.datty.data(), a.qkv[L].data(), a.att[L].data(), B, T, c.NH, c.NH, C / c.NH, false);
    zero(a.dnorm, N * C);
    nn::LinearBackward(a.dnorm.data(), g + lo.qkv_w, g + lo.qkv_b, a.dqkv.data(), a.ln1[L].data(), LinearWeight(l, 0), N, C, 3 * C);
    nn::LayerNormBackward(a.dresid.data(), g + lo.ln1_w, g + lo.ln1_b, a.dnorm.data(), resid_in, p + lo.ln1_w,
                          a.ln1_mean[L].data(), a.ln1_rstd[L].data(), N, C);
  }
  // Embeddings: x0 = [cls | patch·Wᵀ + b] + pos.
  float* gpos = grads_.data() + off_pos_;
  float* gcls = grads_.data() + off_cls_;
  zero(a.dpatch, B * NP * C);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const float* d = a.dresid.data() + (b * T + t) * C;
      for (int64_t i = 0; i < C; ++i) gpos[t * C + i] += d[i];
      float* dst = t == 0 ? gcls : a.dpatch.data() + (b * NP + t - 1) * C;
      for (int64_t i = 0; i < C; ++i) dst[i] += d[i];
    }
  nn::LinearBackward(nullptr, grads_.data() + off_patch_w_, grads_.data() + off_patch_b_, a.dpatch.data(), a.patches.data(),
                     params_.data() + off_patch_w_, B * NP, PD, C);
}

void Vit::AdamWStep(double lr, double beta1, double beta2, double eps, double weight_decay) {
  ++step_;
  nn::AdamWUpdate(params_.data(), grads_.data(), m_.data(), v_.data(), int64_t(params_.size()), lr, beta1, beta2, eps,
                  weight_decay, step_);
}

}  // namespace t81::models
