#include "t81/models/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "t81/base/file.h"
#include "t81/base/rng.h"
#include "t81/base/timer.h"
#include "t81/io/gguf.h"
#include "t81/io/safetensors.h"
#include "t81/models/gguf_names.h"
#include "t81/quant/q8_0.h"
#include "t81/nn/layers.h"
#include "t81/nn/transformer.h"

namespace t81::models {

const char* ArchName(Arch a) {
  switch (a) {
    case Arch::kGpt2: return "gpt2";
    case Arch::kLlama: return "llama";
    case Arch::kPhi3: return "phi3";
  }
  return "?";
}

namespace {

using Json = nlohmann::json;

Result<int64_t> GetInt(const Json& j, const char* key, const std::string& path, int64_t dflt = -1) {
  if (!j.contains(key) || j[key].is_null()) {
    if (dflt >= 0) return dflt;
    return Error(path + ": missing field '" + key + "'");
  }
  if (!j[key].is_number_integer() || j[key].get<int64_t>() <= 0)
    return Error(path + ": field '" + key + "' must be a positive integer");
  return j[key].get<int64_t>();
}

Result<double> GetFloat(const Json& j, const char* key, const std::string& path, double dflt) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_number()) return Error(path + ": field '" + key + "' must be a number");
  return j[key].get<double>();
}

}  // namespace

Result<DecoderConfig> LoadDecoderConfig(const std::string& path) {
  T81_ASSIGN_OR_RETURN(std::string text, base::ReadFile(path));
  const Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(path + ": not a JSON object");
  if (!j.contains("model_type") || !j["model_type"].is_string())
    return Error(path + ": missing field 'model_type'");
  const std::string type = j["model_type"].get<std::string>();
  DecoderConfig c;
  if (type == "gpt2") {
    c.arch = Arch::kGpt2;
    T81_ASSIGN_OR_RETURN(c.V, GetInt(j, "vocab_size", path));
    T81_ASSIGN_OR_RETURN(c.C, GetInt(j, "n_embd", path));
    T81_ASSIGN_OR_RETURN(c.L, GetInt(j, "n_layer", path));
    T81_ASSIGN_OR_RETURN(c.NH, GetInt(j, "n_head", path));
    T81_ASSIGN_OR_RETURN(c.max_t, GetInt(j, "n_positions", path));
    T81_ASSIGN_OR_RETURN(c.FF, GetInt(j, "n_inner", path, 4 * c.C));
    T81_ASSIGN_OR_RETURN(double eps, GetFloat(j, "layer_norm_epsilon", path, 1e-5));
    c.eps = float(eps);
    c.NKV = c.NH;
    if (c.C % c.NH) return Error(path + ": n_embd is not a multiple of n_head");
    c.HD = c.C / c.NH;
    c.tied = !j.contains("tie_word_embeddings") || j["tie_word_embeddings"].get<bool>();
    const std::string act = j.value("activation_function", "gelu_new");
    if (act == "gelu_new" || act == "gelu_pytorch_tanh") c.gelu_erf = false;
    else if (act == "gelu") c.gelu_erf = true;
    else return Error(path + ": activation_function '" + act + "' is not supported");
    if (j.value("scale_attn_by_inverse_layer_idx", false) || j.value("reorder_and_upcast_attn", false))
      return Error(path + ": scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported");
    c.attn_bias = c.mlp_bias = true;
    return c;
  }
  if (type != "llama" && type != "phi3")
    return Error(path + ": model_type '" + type + "' is not a supported causal LM (gpt2, llama, phi3)");
  c.arch = type == "llama" ? Arch::kLlama : Arch::kPhi3;
  T81_ASSIGN_OR_RETURN(c.V, GetInt(j, "vocab_size", path));
  T81_ASSIGN_OR_RETURN(c.C, GetInt(j, "hidden_size", path));
  T81_ASSIGN_OR_RETURN(c.L, GetInt(j, "num_hidden_layers", path));
  T81_ASSIGN_OR_RETURN(c.NH, GetInt(j, "num_attention_heads", path));
  T81_ASSIGN_OR_RETURN(c.NKV, GetInt(j, "num_key_value_heads", path, c.NH));
  T81_ASSIGN_OR_RETURN(c.FF, GetInt(j, "intermediate_size", path));
  T81_ASSIGN_OR_RETURN(c.max_t, GetInt(j, "max_position_embeddings", path));
  T81_ASSIGN_OR_RETURN(c.HD, GetInt(j, "head_dim", path, c.C / c.NH));
  if (c.NH % c.NKV) return Error(path + ": num_attention_heads is not a multiple of num_key_value_heads");
  if (c.HD % 2) return Error(path + ": head_dim must be even for RoPE");
  T81_ASSIGN_OR_RETURN(double eps, GetFloat(j, "rms_norm_eps", path, 1e-6));
  c.eps = float(eps);
  c.tied = j.contains("tie_word_embeddings") && j["tie_word_embeddings"].is_boolean() &&
           j["tie_word_embeddings"].get<bool>();
  if (j.value("hidden_act", "silu") != "silu")
    return Error(path + ": hidden_act '" + j["hidden_act"].get<std::string>() + "' is not supported (silu only)");
  c.attn_bias = j.value("attention_bias", false);
  c.mlp_bias = j.value("mlp_bias", false);
  if (c.arch == Arch::kPhi3 && (c.attn_bias || c.mlp_bias))
    return Error(path + ": Phi-3 with biases is not supported");
  // RoPE: transformers >= 5 writes rope_parameters; older checkpoints top-level rope_theta and
  // rope_scaling. Only plain RoPE is supported.
  T81_ASSIGN_OR_RETURN(c.rope_theta, GetFloat(j, "rope_theta", path, 10000.0));
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    const Json& rp = j["rope_parameters"];
    T81_ASSIGN_OR_RETURN(c.rope_theta, GetFloat(rp, "rope_theta", path, c.rope_theta));
    const std::string rt = rp.value("rope_type", "default");
    if (rt != "default") return Error(path + ": rope_type '" + rt + "' (rope scaling) is not supported");
    if (rp.contains("partial_rotary_factor") && rp["partial_rotary_factor"].get<double>() != 1.0)
      return Error(path + ": partial_rotary_factor != 1 is not supported");
  }
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    return Error(path + ": rope_scaling (long-context RoPE) is not supported");
  if (j.contains("partial_rotary_factor") && j["partial_rotary_factor"].get<double>() != 1.0)
    return Error(path + ": partial_rotary_factor != 1 is not supported");
  return c;
}

// One HF tensor <-> rows [row0, row0 + nrows) of an internal (rows, cols) tensor at `offset`.
// transpose: HF stores it (cols, nrows) — GPT-2 Conv1D (in, out).
struct HfTensorMap {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset;
  int64_t cols, row0, nrows;
  bool transpose;
};

struct DecoderLM::Acts {
  int64_t B = 0, T = 0, N = 0, count = 0;
  bool has_labels = false;
  std::vector<int64_t> ids, labels, pos;
  std::vector<float> x0;  // (N, C)
  // per layer
  std::vector<std::vector<float>> ln1, ln1_mean, ln1_rstd, qkv, att, atty, res1, ln2, ln2_mean,
      ln2_rstd, fc, act, res2;
  std::vector<float> lnf, lnf_mean, lnf_rstd, probs;
  // backward scratch
  std::vector<float> dresid, dnorm, dqkv, datty, dfc, dact, dlogits, dlnf;
};

DecoderLM::DecoderLM(DecoderConfig cfg) : cfg_(std::move(cfg)), acts_(std::make_unique<Acts>()) {}
DecoderLM::~DecoderLM() = default;

void DecoderLM::Layout() {
  const DecoderConfig& c = cfg_;
  const bool ln = c.layernorm();
  size_t off = 0;
  auto take = [&](int64_t n) {
    const size_t o = off;
    off += size_t(n);
    return o;
  };
  off_wte_ = take(c.V * c.C);
  if (c.learned_pos()) off_wpe_ = take(c.max_t * c.C);
  off_lnf_w_ = take(c.C);
  if (ln) off_lnf_b_ = take(c.C);
  if (!c.tied) off_head_ = take(c.V * c.C);
  layer_size_ = size_t(2 * c.C * (ln ? 2 : 1) + c.qkv_dim() * c.C + (c.attn_bias ? c.qkv_dim() + c.C : 0) +
                       c.C * c.NH * c.HD + c.fc_dim() * c.C + c.C * c.FF +
                       (c.mlp_bias ? c.fc_dim() + c.C : 0));
  layer_off_.clear();
  for (int64_t l = 0; l < c.L; ++l) layer_off_.push_back(take(int64_t(layer_size_)));
  params_.clear();
  params_.resize(off);  // zero, and not resident until written
  grads_.clear();  // gradients and AdamW moments are allocated on first use (inference needs none)
  m_.clear();
  v_.clear();

  // HF names
  hf_.clear();
  auto add = [&](std::string name, std::vector<int64_t> shape, size_t o, int64_t cols, int64_t row0,
                 int64_t nrows, bool tr) { hf_.push_back({std::move(name), std::move(shape), o, cols, row0, nrows, tr}); };
  auto vec = [&](std::string name, size_t o, int64_t n) { add(std::move(name), {n}, o, 1, 0, n, false); };
  const int64_t C = c.C, Q = c.NH * c.HD, KV = c.NKV * c.HD;
  for (int64_t l = 0; l < c.L; ++l) {
    const Layer ly = LayerAt(params_, l);
    auto o = [&](const float* p) { return size_t(p - params_.data()); };
    if (c.arch == Arch::kGpt2) {
      const std::string p = "transformer.h." + std::to_string(l) + ".";
      vec(p + "ln_1.weight", o(ly.ln1_w), C);
      vec(p + "ln_1.bias", o(ly.ln1_b), C);
      add(p + "attn.c_attn.weight", {C, 3 * C}, o(ly.qkv_w), C, 0, 3 * C, true);
      vec(p + "attn.c_attn.bias", o(ly.qkv_b), 3 * C);
      add(p + "attn.c_proj.weight", {C, C}, o(ly.o_w), C, 0, C, true);
      vec(p + "attn.c_proj.bias", o(ly.o_b), C);
      vec(p + "ln_2.weight", o(ly.ln2_w), C);
      vec(p + "ln_2.bias", o(ly.ln2_b), C);
      add(p + "mlp.c_fc.weight", {C, c.FF}, o(ly.fc_w), C, 0, c.FF, true);
      vec(p + "mlp.c_fc.bias", o(ly.fc_b), c.FF);
      add(p + "mlp.c_proj.weight", {c.FF, C}, o(ly.proj_w), c.FF, 0, C, true);
      vec(p + "mlp.c_proj.bias", o(ly.proj_b), C);
      continue;
    }
    const std::string p = "model.layers." + std::to_string(l) + ".";
    vec(p + "input_layernorm.weight", o(ly.ln1_w), C);
    if (c.arch == Arch::kPhi3) {
      add(p + "self_attn.qkv_proj.weight", {Q + 2 * KV, C}, o(ly.qkv_w), C, 0, Q + 2 * KV, false);
    } else {
      add(p + "self_attn.q_proj.weight", {Q, C}, o(ly.qkv_w), C, 0, Q, false);
      add(p + "self_attn.k_proj.weight", {KV, C}, o(ly.qkv_w), C, Q, KV, false);
      add(p + "self_attn.v_proj.weight", {KV, C}, o(ly.qkv_w), C, Q + KV, KV, false);
      if (c.attn_bias) {
        add(p + "self_attn.q_proj.bias", {Q}, o(ly.qkv_b), 1, 0, Q, false);
        add(p + "self_attn.k_proj.bias", {KV}, o(ly.qkv_b), 1, Q, KV, false);
        add(p + "self_attn.v_proj.bias", {KV}, o(ly.qkv_b), 1, Q + KV, KV, false);
      }
    }
    add(p + "self_attn.o_proj.weight", {C, Q}, o(ly.o_w), Q, 0, C, false);
    if (c.attn_bias) vec(p + "self_attn.o_proj.bias", o(ly.o_b), C);
    vec(p + "post_attention_layernorm.weight", o(ly.ln2_w), C);
    if (c.arch == Arch::kPhi3) {
      add(p + "mlp.gate_up_proj.weight", {2 * c.FF, C}, o(ly.fc_w), C, 0, 2 * c.FF, false);
    } else {
      add(p + "mlp.gate_proj.weight", {c.FF, C}, o(ly.fc_w), C, 0, c.FF, false);
      add(p + "mlp.up_proj.weight", {c.FF, C}, o(ly.fc_w), C, c.FF, c.FF, false);
      if (c.mlp_bias) {
        add(p + "mlp.gate_proj.bias", {c.FF}, o(ly.fc_b), 1, 0, c.FF, false);
        add(p + "mlp.up_proj.bias", {c.FF}, o(ly.fc_b), 1, c.FF, c.FF, false);
      }
    }
    add(p + "mlp.down_proj.weight", {C, c.FF}, o(ly.proj_w), c.FF, 0, C, false);
    if (c.mlp_bias) vec(p + "mlp.down_proj.bias", o(ly.proj_b), C);
  }
  if (c.arch == Arch::kGpt2) {
    add("transformer.wte.weight", {c.V, C}, off_wte_, C, 0, c.V, false);
    add("transformer.wpe.weight", {c.max_t, C}, off_wpe_, C, 0, c.max_t, false);
    vec("transformer.ln_f.weight", off_lnf_w_, C);
    vec("transformer.ln_f.bias", off_lnf_b_, C);
  } else {
    add("model.embed_tokens.weight", {c.V, C}, off_wte_, C, 0, c.V, false);
    vec("model.norm.weight", off_lnf_w_, C);
  }
  if (!c.tied) add("lm_head.weight", {c.V, C}, off_head_, C, 0, c.V, false);
}

DecoderLM::Layer DecoderLM::LayerAt(const base::ZeroedFloats& arena, int64_t l) const {
  const DecoderConfig& c = cfg_;
  float* p = const_cast<float*>(arena.data()) + layer_off_[size_t(l)];
  auto take = [&](int64_t n, bool present) -> float* {
    if (!present) return nullptr;
    float* r = p;
    p += n;
    return r;
  };
  Layer ly;
  ly.ln1_w = take(c.C, true);
  ly.ln1_b = take(c.C, c.layernorm());
  ly.qkv_w = take(c.qkv_dim() * c.C, true);
  ly.qkv_b = take(c.qkv_dim(), c.attn_bias);
  ly.o_w = take(c.C * c.NH * c.HD, true);
  ly.o_b = take(c.C, c.attn_bias);
  ly.ln2_w = take(c.C, true);
  ly.ln2_b = take(c.C, c.layernorm());
  ly.fc_w = take(c.fc_dim() * c.C, true);
  ly.fc_b = take(c.fc_dim(), c.mlp_bias);
  ly.proj_w = take(c.C * c.FF, true);
  ly.proj_b = take(c.C, c.mlp_bias);
  return ly;
}

std::string DecoderConfigJson(const DecoderConfig& c) {
  Json j;
  if (c.arch == Arch::kGpt2) {
    j = {{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"vocab_size", c.V}, {"n_embd", c.C},
         {"n_layer", c.L}, {"n_head", c.NH}, {"n_positions", c.max_t}, {"n_inner", c.FF},
         {"layer_norm_epsilon", c.eps}, {"activation_function", c.gelu_erf ? "gelu" : "gelu_new"},
         {"tie_word_embeddings", c.tied}, {"attn_pdrop", 0.0}, {"embd_pdrop", 0.0}, {"resid_pdrop", 0.0}};
  } else {
    j = {{"model_type", c.arch == Arch::kLlama ? "llama" : "phi3"},
         {"architectures", {c.arch == Arch::kLlama ? "LlamaForCausalLM" : "Phi3ForCausalLM"}},
         {"vocab_size", c.V}, {"hidden_size", c.C}, {"num_hidden_layers", c.L}, {"num_attention_heads", c.NH},
         {"num_key_value_heads", c.NKV}, {"head_dim", c.HD}, {"intermediate_size", c.FF},
         {"max_position_embeddings", c.max_t}, {"rms_norm_eps", c.eps}, {"hidden_act", "silu"},
         {"rope_theta", c.rope_theta}, {"tie_word_embeddings", c.tied}, {"attention_bias", c.attn_bias},
         {"mlp_bias", c.mlp_bias}};
  }
  return j.dump(2) + "\n";
}

std::unique_ptr<DecoderLM> DecoderLM::Create(const DecoderConfig& cfg, uint64_t seed) {
  std::unique_ptr<DecoderLM> m(new DecoderLM(cfg));
  m->config_json_ = DecoderConfigJson(cfg);
  m->Layout();
  base::Rng rng(seed);
  for (float& p : m->params_) p = float(rng.Normal() * 0.02);
  auto fill = [&](float* p, int64_t n, float v) {
    if (p) std::fill(p, p + n, v);
  };
  for (int64_t l = 0; l < cfg.L; ++l) {
    const Layer ly = m->LayerAt(m->params_, l);
    fill(ly.ln1_w, cfg.C, 1.0f);
    fill(ly.ln1_b, cfg.C, 0.0f);
    fill(ly.ln2_w, cfg.C, 1.0f);
    fill(ly.ln2_b, cfg.C, 0.0f);
    fill(ly.qkv_b, cfg.qkv_dim(), 0.0f);
    fill(ly.o_b, cfg.C, 0.0f);
    fill(ly.fc_b, cfg.fc_dim(), 0.0f);
    fill(ly.proj_b, cfg.C, 0.0f);
  }
  fill(m->params_.data() + m->off_lnf_w_, cfg.C, 1.0f);
  if (cfg.layernorm()) fill(m->params_.data() + m->off_lnf_b_, cfg.C, 0.0f);
  return m;
}

Result<std::unique_ptr<DecoderLM>> DecoderLM::Load(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  T81_ASSIGN_OR_RETURN(DecoderConfig cfg, LoadDecoderConfig(cfg_path));
  std::unique_ptr<DecoderLM> m(new DecoderLM(cfg));
  T81_ASSIGN_OR_RETURN(m->config_json_, base::ReadFile(cfg_path));
  m->Layout();
  T81_ASSIGN_OR_RETURN(io::Checkpoint ckpt, io::OpenCheckpoint(dir));
  for (const HfTensorMap& h : m->hf_) {
    const io::SafeTensorsFile* file = ckpt.FileOf(h.name);
    if (!file) return Error(dir + ": missing tensor '" + h.name + "'");
    const io::TensorInfo* t = file->Find(h.name);
    if (t->shape != h.shape) {
      auto str = [](const std::vector<int64_t>& s) {
        std::string r = "[";
        for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
        return r + "]";
      };
      return Error(file->path() + ": tensor '" + h.name + "' has shape " + str(t->shape) +
                   " but config.json implies " + str(h.shape));
    }
    T81_ASSIGN_OR_RETURN(std::vector<float> vals, file->ReadFloat(h.name));
    float* dst = m->params_.data() + h.offset;
    for (int64_t r = 0; r < h.nrows; ++r)
      for (int64_t col = 0; col < h.cols; ++col)
        dst[(h.row0 + r) * h.cols + col] =
            h.transpose ? vals[size_t(col * h.nrows + r)] : vals[size_t(r * h.cols + col)];
  }
  return m;
}

std::vector<DecoderLM::Named> DecoderLM::Export(const base::ZeroedFloats& src) const {
  std::vector<Named> out;
  for (const HfTensorMap& h : hf_) {
    Named n{h.name, h.shape, std::vector<float>(size_t(h.nrows * h.cols))};
    const float* s = src.data() + h.offset;
    for (int64_t r = 0; r < h.nrows; ++r)
      for (int64_t col = 0; col < h.cols; ++col)
        (h.transpose ? n.values[size_t(col * h.nrows + r)] : n.values[size_t(r * h.cols + col)]) =
            s[(h.row0 + r) * h.cols + col];
    out.push_back(std::move(n));
  }
  return out;
}

std::vector<DecoderLM::Named> DecoderLM::HfParams() const {
  const_cast<DecoderLM*>(this)->MaterializeFloat();  // a GGUF-loaded model shows its ternary weights
  return Export(params_);
}
std::vector<DecoderLM::Named> DecoderLM::HfGrads() const { return Export(grads_); }

Status DecoderLM::Save(const std::string& out_dir) const {
  io::SafeTensorsWriter w;
  w.SetMetadata("format", "pt");
  for (const Named& n : HfParams()) w.AddF32(n.name, n.shape, n.values.data());
  T81_RETURN_IF_ERROR(base::WriteFileAtomic(out_dir + "/config.json", config_json_));
  return w.Write(out_dir + "/model.safetensors");
}

namespace {
// Rows/cols of the four block linears: qkv, o, fc (or gate_up), proj (or down).
void LinearShape(const DecoderConfig& c, int which, int64_t* rows, int64_t* cols) {
  switch (which) {
    case 0: *rows = c.qkv_dim(); *cols = c.C; break;
    case 1: *rows = c.C; *cols = c.NH * c.HD; break;
    case 2: *rows = c.fc_dim(); *cols = c.C; break;
    default: *rows = c.C; *cols = c.FF; break;
  }
}
}  // namespace

bool DecoderLM::BlockLinearOf(const HfTensorMap& h, int64_t* l, int* which) const {
  if (h.shape.size() != 2) return false;
  for (int64_t ll = 0; ll < cfg_.L; ++ll) {
    const Layer ly = LayerAt(params_, ll);
    const float* w[4] = {ly.qkv_w, ly.o_w, ly.fc_w, ly.proj_w};
    for (int k = 0; k < 4; ++k)
      if (params_.data() + h.offset == w[k]) {
        *l = ll;
        *which = k;
        return true;
      }
  }
  return false;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> DecoderLM::HfTensorList(const DecoderConfig& cfg) {
  DecoderLM m(cfg);
  m.Layout();  // the arena is lazily zeroed: no memory is touched
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  for (const HfTensorMap& h : m.hf_) out.push_back({h.name, h.shape});
  return out;
}

Result<std::unique_ptr<DecoderLM>> DecoderLM::LoadT81(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  T81_ASSIGN_OR_RETURN(DecoderConfig c, LoadDecoderConfig(cfg_path));
  std::unique_ptr<DecoderLM> m(new DecoderLM(c));
  T81_ASSIGN_OR_RETURN(m->config_json_, base::ReadFile(cfg_path));
  m->Layout();
  const std::string path = dir + "/model.t81.safetensors";
  T81_ASSIGN_OR_RETURN(auto f, io::SafeTensorsFile::Open(path));
  auto meta = f->metadata().find("format");
  if (meta == f->metadata().end() || meta->second != "t81") return Error(path + ": not a t81 checkpoint (metadata format != t81)");
  const auto fmt_it = f->metadata().find("t81.tq_format");
  quant::TqFormat fmt = quant::TqFormat::kTq2_0;
  if (fmt_it != f->metadata().end()) {
    T81_ASSIGN_OR_RETURN(fmt, quant::ParseTqFormat(fmt_it->second));
  }
  const int64_t bb = quant::TqBlockBytes(fmt);
  std::string q8_list;  // names of tensors stored as Q8_0 blocks (U8)
  if (auto q8 = f->metadata().find("t81.q8_0"); q8 != f->metadata().end()) q8_list = "," + q8->second + ",";
  std::vector<quant::TernaryMatrix> tern(static_cast<size_t>(c.L * 4));
  int ternary = 0;
  for (const HfTensorMap& h : m->hf_) {
    const io::TensorInfo* t = f->Find(h.name);
    if (!t) return Error(path + ": missing tensor '" + h.name + "'");
    int64_t l = -1;
    int k = -1;
    const bool linear = m->BlockLinearOf(h, &l, &k);
    if (t->dtype == io::DType::kU8 && q8_list.find("," + h.name + ",") != std::string::npos) {
      const int64_t n = h.nrows * h.cols;
      if (h.transpose || h.cols % quant::kQ8Block || t->end - t->begin != uint64_t(n / quant::kQ8Block * quant::kQ8BlockBytes))
        return Error(path + ": Q8_0 tensor '" + h.name + "' has the wrong byte size");
      quant::DequantizeQ8_0(f->data(*t), n, m->params_.data() + h.offset + h.row0 * h.cols);
      continue;
    }
    if (t->dtype == io::DType::kU8) {
      if (!linear) return Error(path + ": tensor '" + h.name + "' is stored ternary but is not a block linear");
      const int64_t kb = quant::BlocksPerRow(h.cols);
      if (t->shape != std::vector<int64_t>{h.nrows, kb * bb})
        return Error(path + ": ternary tensor '" + h.name + "' has the wrong byte shape");
      quant::TernaryMatrix& tm = tern[size_t(l * 4 + k)];
      if (tm.data.empty()) m->StartTernary(k, fmt, &tm);
      std::memcpy(tm.data.data() + size_t(h.row0 * kb * bb), f->data(*t), size_t(h.nrows * kb * bb));
      ++ternary;
      continue;
    }
    // Float tensors keep the HF layout (GPT-2 Conv1D (in, out) included).
    const int64_t n = h.nrows * h.cols;
    if (t->numel() != n) return Error(path + ": tensor '" + h.name + "' has the wrong size");
    T81_ASSIGN_OR_RETURN(std::vector<float> vals, f->ReadFloat(h.name));
    float* dst = m->params_.data() + h.offset;
    for (int64_t r = 0; r < h.nrows; ++r)
      for (int64_t col = 0; col < h.cols; ++col)
        dst[(h.row0 + r) * h.cols + col] = h.transpose ? vals[size_t(col * h.nrows + r)] : vals[size_t(r * h.cols + col)];
  }
  bool complete = ternary > 0;
  for (const auto& tm : tern) complete &= !tm.data.empty();
  if (ternary > 0 && !complete) return Error(path + ": only some block linears are ternary");
  if (complete) m->UseFileTernary(std::move(tern));
  return m;
}

void DecoderLM::StartTernary(int which, quant::TqFormat fmt, quant::TernaryMatrix* t) const {
  LinearShape(cfg_, which, &t->rows, &t->cols);
  t->format = fmt;
  t->data.assign(size_t(t->rows * t->blocks_per_row() * quant::TqBlockBytes(fmt)), 0);
}

void DecoderLM::UseFileTernary(std::vector<quant::TernaryMatrix> tern) {
  packed_.clear();
  packed_fmt_.clear();
  for (auto& t : tern) {  // each file copy is freed as soon as it is repacked
    packed_fmt_.push_back(t.format);
    packed_.push_back(kernels::Repack(t));
    t = quant::TernaryMatrix{};
  }
  mode_ = LinearMode::kPacked;
  qgran_ = quant::Granularity::kBlock;
  packed_from_file_ = true;
}

void DecoderLM::EmbedRow(int64_t id, float* x) const {
  if (!wte_src_) std::memcpy(x, params_.data() + off_wte_ + id * cfg_.C, size_t(cfg_.C) * 4);
  else if (wte_src_->q8) kernels::DequantRow(*wte_src_->q8, id, x);
  else kernels::DequantRow(*wte_src_->f16, id, x);
}

void DecoderLM::MaterializeFloat() {
  if (wte_src_) {  // the same values the file's dequantizer gives (d · q, or fp16 -> fp32)
    for (int64_t v = 0; v < cfg_.V; ++v) EmbedRow(v, params_.data() + off_wte_ + v * cfg_.C);
    wte_src_ = nullptr;
  }
  if (!packed_from_file_) return;
  for (int64_t l = 0; l < cfg_.L; ++l) {
    const Layer ly = LayerAt(params_, l);
    float* w[4] = {ly.qkv_w, ly.o_w, ly.fc_w, ly.proj_w};
    for (int k = 0; k < 4; ++k) {
      const kernels::PackedWeights& p = packed_[size_t(l * 4 + k)];
      std::vector<int8_t> t(size_t(p.n * p.k));
      std::vector<float> d(size_t(p.n * p.kb));
      kernels::UnpackPacked(p, t.data(), d.data());
      for (int64_t r = 0; r < p.n; ++r)
        for (int64_t j = 0; j < p.k; ++j)
          w[k][r * p.k + j] = d[size_t(r * p.kb + j / quant::kBlock)] * float(t[size_t(r * p.k + j)]);
    }
  }
  packed_from_file_ = false;
}

void DecoderLM::SetLinearMode(LinearMode mode, quant::Granularity g, float threshold, ActPath act) {
  if (packed_from_file_ && mode == LinearMode::kPacked) {  // keep the file's ternary weights
    mode_ = mode;
    act_ = act;
    return;
  }
  MaterializeFloat();
  mode_ = mode;
  qgran_ = g;
  qthreshold_ = threshold;
  act_ = act;
  packed_fmt_.clear();
  packed_.clear();
  if (mode != LinearMode::kPacked) return;
  for (int64_t l = 0; l < cfg_.L; ++l) {
    const Layer ly = LayerAt(params_, l);
    const float* w[4] = {ly.qkv_w, ly.o_w, ly.fc_w, ly.proj_w};
    for (int k = 0; k < 4; ++k) {
      int64_t rows, cols;
      LinearShape(cfg_, k, &rows, &cols);
      packed_fmt_.push_back(quant::TqFormat::kTq2_0);
      packed_.push_back(kernels::Repack(quant::QuantizeMatrix(w[k], rows, cols, g, threshold, quant::TqFormat::kTq2_0)));
    }
  }
}

int64_t DecoderLM::LinearBytes() const {
  int64_t n = 0;
  if (mode_ == LinearMode::kPacked) {
    for (size_t i = 0; i < packed_.size(); ++i) n += packed_[i].n * packed_[i].kb * quant::TqBlockBytes(packed_fmt_[i]);
    return n;
  }
  for (int k = 0; k < 4; ++k) {
    int64_t rows, cols;
    LinearShape(cfg_, k, &rows, &cols);
    n += 4 * rows * cols * cfg_.L;
  }
  return n;
}

void DecoderLM::Linear(float* out, const float* inp, int64_t l, int which, const float* bias, int64_t N, int64_t C,
                       int64_t OC) {
  if (mode_ != LinearMode::kPacked) {
    nn::LinearForward(out, inp, LinearWeight(l, which), bias, N, C, OC);
    return;
  }
  T81_CHECK(packed_[size_t(l * 4 + which)].n == OC);
  PackedLinear(kernels::Active(), packed_[size_t(l * 4 + which)], act_, inp, N, C, bias, out, &qa_);
}

const float* DecoderLM::LinearWeight(int64_t l, int which) {
  const Layer ly = LayerAt(params_, l);
  const float* w[4] = {ly.qkv_w, ly.o_w, ly.fc_w, ly.proj_w};
  if (mode_ == LinearMode::kFloat) return w[which];
  return qweights_[size_t(l * 4 + which)].data();
}

namespace {
void AddInPlace(float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] += b[i];
}
}  // namespace

Result<double> DecoderLM::Forward(const int64_t* ids, const int64_t* labels, int64_t B, int64_t T) {
  const DecoderConfig& c = cfg_;
  if (B <= 0 || T <= 0) return Error("empty input");
  if (T > c.max_t)
    return Error("sequence length " + std::to_string(T) + " exceeds the model's " + std::to_string(c.max_t) + " positions");
  const int64_t N = B * T;
  for (int64_t i = 0; i < N; ++i) {
    if (ids[i] < 0 || ids[i] >= c.V)
      return Error("input id " + std::to_string(ids[i]) + " at " + std::to_string(i) + " is outside [0, " + std::to_string(c.V) + ")");
    if (labels && labels[i] != -100 && (labels[i] < 0 || labels[i] >= c.V))
      return Error("label " + std::to_string(labels[i]) + " at " + std::to_string(i) + " is outside [0, vocab) and not -100");
  }
  Acts& a = *acts_;
  const int64_t C = c.C, QKV = c.qkv_dim(), AH = c.NH * c.HD;
  if (a.N != N || a.T != T) {
    a.B = B;
    a.T = T;
    a.N = N;
    a.x0.assign(size_t(N * C), 0);
    auto per_layer = [&](std::vector<std::vector<float>>& v, int64_t n) {
      v.assign(size_t(c.L), std::vector<float>(size_t(n)));
    };
    per_layer(a.ln1, N * C);
    per_layer(a.ln1_mean, N);
    per_layer(a.ln1_rstd, N);
    per_layer(a.qkv, N * QKV);
    per_layer(a.att, B * c.NH * T * T);
    per_layer(a.atty, N * AH);
    per_layer(a.res1, N * C);
    per_layer(a.ln2, N * C);
    per_layer(a.ln2_mean, N);
    per_layer(a.ln2_rstd, N);
    per_layer(a.fc, N * c.fc_dim());
    per_layer(a.act, N * c.FF);
    per_layer(a.res2, N * C);
    a.lnf.assign(size_t(N * C), 0);
    a.lnf_mean.assign(size_t(N), 0);
    a.lnf_rstd.assign(size_t(N), 0);
    a.probs.assign(size_t(N * c.V), 0);
    logits_.assign(size_t(N * c.V), 0);
    a.pos.resize(size_t(N));
    for (int64_t i = 0; i < N; ++i) a.pos[size_t(i)] = i % T;
  }
  a.ids.assign(ids, ids + N);
  a.has_labels = labels != nullptr;
  if (labels) a.labels.assign(labels, labels + N);

  if (mode_ == LinearMode::kQat) {
    qweights_.resize(size_t(c.L * 4));
    for (int64_t l = 0; l < c.L; ++l) {
      const Layer ly = LayerAt(params_, l);
      const float* w[4] = {ly.qkv_w, ly.o_w, ly.fc_w, ly.proj_w};
      for (int k = 0; k < 4; ++k) {
        int64_t rows, cols;
        LinearShape(c, k, &rows, &cols);
        auto& q = qweights_[size_t(l * 4 + k)];
        q.resize(size_t(rows * cols));
        quant::FakeQuantize(w[k], rows, cols, qgran_, qthreshold_, q.data());
      }
    }
  }

  // Embeddings.
  for (int64_t i = 0; i < N; ++i) {
    float* x = a.x0.data() + i * C;
    EmbedRow(ids[i], x);
    if (c.learned_pos()) AddInPlace(x, params_.data() + off_wpe_ + a.pos[size_t(i)] * C, C);
  }
  static thread_local nn::RopeTable rope;
  if (!c.learned_pos() && (rope.hd != c.HD || rope.max_t != c.max_t)) rope = nn::RopeTable(c.HD, c.max_t, c.rope_theta);

  const float* resid = a.x0.data();
  for (int64_t l = 0; l < c.L; ++l) {
    const Layer ly = LayerAt(params_, l);
    const size_t L = size_t(l);
    if (c.layernorm())
      nn::LayerNormForward(a.ln1[L].data(), a.ln1_mean[L].data(), a.ln1_rstd[L].data(), resid, ly.ln1_w, ly.ln1_b, N, C, c.eps);
    else
      nn::RmsNormForward(a.ln1[L].data(), a.ln1_rstd[L].data(), resid, ly.ln1_w, N, C, c.eps);
    Linear(a.qkv[L].data(), a.ln1[L].data(), l, 0, ly.qkv_b, N, C, QKV);
    if (!c.learned_pos()) {
      nn::RopeForward(a.qkv[L].data(), N, c.NH, c.HD, QKV, a.pos.data(), rope);
      nn::RopeForward(a.qkv[L].data() + AH, N, c.NKV, c.HD, QKV, a.pos.data(), rope);
    }
    nn::AttentionForward(a.atty[L].data(), a.att[L].data(), a.qkv[L].data(), B, T, c.NH, c.NKV, c.HD);
    Linear(a.res1[L].data(), a.atty[L].data(), l, 1, ly.o_b, N, AH, C);
    AddInPlace(a.res1[L].data(), resid, N * C);
    if (c.layernorm())
      nn::LayerNormForward(a.ln2[L].data(), a.ln2_mean[L].data(), a.ln2_rstd[L].data(), a.res1[L].data(), ly.ln2_w, ly.ln2_b, N, C, c.eps);
    else
      nn::RmsNormForward(a.ln2[L].data(), a.ln2_rstd[L].data(), a.res1[L].data(), ly.ln2_w, N, C, c.eps);
    Linear(a.fc[L].data(), a.ln2[L].data(), l, 2, ly.fc_b, N, C, c.fc_dim());
    if (c.swiglu()) nn::SwiGluForward(a.act[L].data(), a.fc[L].data(), N, c.FF);
    else if (c.gelu_erf) nn::GeluErfForward(a.act[L].data(), a.fc[L].data(), N * c.FF);
    else nn::GeluTanhForward(a.act[L].data(), a.fc[L].data(), N * c.FF);
    Linear(a.res2[L].data(), a.act[L].data(), l, 3, ly.proj_b, N, c.FF, C);
    AddInPlace(a.res2[L].data(), a.res1[L].data(), N * C);
    resid = a.res2[L].data();
  }
  if (c.layernorm())
    nn::LayerNormForward(a.lnf.data(), a.lnf_mean.data(), a.lnf_rstd.data(), resid, params_.data() + off_lnf_w_, params_.data() + off_lnf_b_, N, C, c.eps);
  else
    nn::RmsNormForward(a.lnf.data(), a.lnf_rstd.data(), resid, params_.data() + off_lnf_w_, N, C, c.eps);
  Head(logits_.data(), a.lnf.data(), N);
  if (!labels) return 0.0;
  return nn::CausalLmLossForward(a.probs.data(), logits_.data(), a.labels.data(), B, T, c.V, &a.count);
}

void DecoderLM::ZeroGrad() { grads_.assign(params_.size(), 0.0f); }

void DecoderLM::Backward() {
  const DecoderConfig& c = cfg_;
  Acts& a = *acts_;
  T81_CHECK(a.has_labels, "Backward needs a Forward with labels");
  T81_CHECK(mode_ != LinearMode::kPacked, "Backward is not available with packed ternary weights");
  if (grads_.size() != params_.size()) grads_.assign(params_.size(), 0.0f);
  const int64_t N = a.N, C = c.C, QKV = c.qkv_dim(), AH = c.NH * c.HD;
  auto zero = [](std::vector<float>& v, int64_t n) { v.assign(size_t(n), 0.0f); };
  zero(a.dlogits, N * c.V);
  nn::CausalLmLossBackward(a.dlogits.data(), a.probs.data(), a.labels.data(), a.B, a.T, c.V, a.count);
  // Head.
  zero(a.dlnf, N * C);
  const size_t head_off = c.tied ? off_wte_ : off_head_;
  nn::LinearBackward(a.dlnf.data(), grads_.data() + head_off, nullptr, a.dlogits.data(), a.lnf.data(),
                     params_.data() + head_off, N, C, c.V);
  // Final norm -> gradient of the residual stream.
  zero(a.dresid, N * C);
  const float* last = c.L ? a.res2[size_t(c.L - 1)].data() : a.x0.data();
  if (c.layernorm())
    nn::LayerNormBackward(a.dresid.data(), grads_.data() + off_lnf_w_, grads_.data() + off_lnf_b_, a.dlnf.data(), last,
                          params_.data() + off_lnf_w_, a.lnf_mean.data(), a.lnf_rstd.data(), N, C);
  else
    nn::RmsNormBackward(a.dresid.data(), grads_.data() + off_lnf_w_, a.dlnf.data(), last, params_.data() + off_lnf_w_,
                        a.lnf_rstd.data(), N, C);
  static thread_local nn::RopeTable rope;
  if (!c.learned_pos() && (rope.hd != c.HD || rope.max_t != c.max_t)) rope = nn::RopeTable(c.HD, c.max_t, c.rope_theta);
  for (int64_t l = c.L - 1; l >= 0; --l) {
    const size_t L = size_t(l);
    const Layer ly = LayerAt(params_, l);
    const Layer g = LayerAt(grads_, l);
    const float* resid_in = l == 0 ? a.x0.data() : a.res2[L - 1].data();
    // MLP: res2 = res1 + proj(act(fc(norm2(res1)))).
    zero(a.dact, N * c.FF);
    nn::LinearBackward(a.dact.data(), g.proj_w, g.proj_b, a.dresid.data(), a.act[L].data(), LinearWeight(l, 3), N, c.FF, C);
    zero(a.dfc, N * c.fc_dim());
    if (c.swiglu()) nn::SwiGluBackward(a.dfc.data(), a.fc[L].data(), a.dact.data(), N, c.FF);
    else if (c.gelu_erf) nn::GeluErfBackward(a.dfc.data(), a.fc[L].data(), a.dact.data(), N * c.FF);
    else nn::GeluTanhBackward(a.dfc.data(), a.fc[L].data(), a.dact.data(), N * c.FF);
    zero(a.dnorm, N * C);
    nn::LinearBackward(a.dnorm.data(), g.fc_w, g.fc_b, a.dfc.data(), a.ln2[L].data(), LinearWeight(l, 2), N, C, c.fc_dim());
    if (c.layernorm())
      nn::LayerNormBackward(a.dresid.data(), g.ln2_w, g.ln2_b, a.dnorm.data(), a.res1[L].data(), ly.ln2_w,
                            a.ln2_mean[L].data(), a.ln2_rstd[L].data(), N, C);
    else
      nn::RmsNormBackward(a.dresid.data(), g.ln2_w, a.dnorm.data(), a.res1[L].data(), ly.ln2_w, a.ln2_rstd[L].data(), N, C);
    // Attention: res1 = resid_in + o(attn(qkv(norm1(resid_in)))).
    zero(a.datty, N * AH);
    nn::LinearBackward(a.datty.data(), g.o_w, g.o_b, a.dresid.data(), a.atty[L].data(), LinearWeight(l, 1), N, AH, C);
    zero(a.dqkv, N * QKV);
    nn::AttentionBackward(a.dqkv.data(), a.datty.data(), a.qkv[L].data(), a.att[L].data(), a.B, a.T, c.NH, c.NKV, c.HD);
    if (!c.learned_pos()) {
      nn::RopeBackward(a.dqkv.data(), N, c.NH, c.HD, QKV, a.pos.data(), rope);
      nn::RopeBackward(a.dqkv.data() + AH, N, c.NKV, c.HD, QKV, a.pos.data(), rope);
    }
    zero(a.dnorm, N * C);
    nn::LinearBackward(a.dnorm.data(), g.qkv_w, g.qkv_b, a.dqkv.data(), a.ln1[L].data(), LinearWeight(l, 0), N, C, QKV);
    if (c.layernorm())
      nn::LayerNormBackward(a.dresid.data(), g.ln1_w, g.ln1_b, a.dnorm.data(), resid_in, ly.ln1_w, a.ln1_mean[L].data(),
                            a.ln1_rstd[L].data(), N, C);
    else
      nn::RmsNormBackward(a.dresid.data(), g.ln1_w, a.dnorm.data(), resid_in, ly.ln1_w, a.ln1_rstd[L].data(), N, C);
  }
  // Embeddings.
  for (int64_t i = 0; i < N; ++i) {
    AddInPlace(grads_.data() + off_wte_ + a.ids[size_t(i)] * C, a.dresid.data() + i * C, C);
    if (c.learned_pos()) AddInPlace(grads_.data() + off_wpe_ + a.pos[size_t(i)] * C, a.dresid.data() + i * C, C);
  }
}

void DecoderLM::Head(float* logits, const float* x, int64_t n) {
  const DecoderConfig& c = cfg_;
  if (head_file_.q8 && mode_ == LinearMode::kPacked) {
    kernels::QuantizeActsQ8(x, n, c.C, &head_acts_);
    kernels::GemmQ8(kernels::Active(), *head_file_.q8, head_acts_, logits, c.V);
    return;
  }
  if (head_file_.f16 && mode_ == LinearMode::kPacked) {
    kernels::GemmF16(kernels::Active(), *head_file_.f16, x, n, c.C, logits, c.V);
    return;
  }
  nn::LinearForward(logits, x, params_.data() + (c.tied ? off_wte_ : off_head_), nullptr, n, c.C, c.V);
}

void DecoderLM::AdamWStep(double lr, double beta1, double beta2, double eps, double weight_decay) {
  MaterializeFloat();
  head_file_ = {};  // the float head and embedding are about to change
  embd_file_ = {};
  if (m_.size() != params_.size()) {
    m_.assign(params_.size(), 0.0f);
    v_.assign(params_.size(), 0.0f);
  }
  if (grads_.size() != params_.size()) grads_.assign(params_.size(), 0.0f);
  ++step_;
  nn::AdamWUpdate(params_.data(), grads_.data(), m_.data(), v_.data(), int64_t(params_.size()), lr, beta1, beta2,
                  eps, weight_decay, step_);
}

Result<std::vector<int64_t>> DecoderLM::Generate(const std::vector<int64_t>& prompt, int64_t n_new,
                                                 GenTiming* timing, std::vector<float>* all_logits) {
  const DecoderConfig& c = cfg_;
  if (prompt.empty()) return Error("empty prompt");
  if (n_new < 0) return Error("negative number of new tokens (" + std::to_string(n_new) + ")");
  if (int64_t(prompt.size()) + n_new > c.max_t)
    return Error("prompt + new tokens (" + std::to_string(prompt.size() + size_t(n_new)) + ") exceed the model's " +
                 std::to_string(c.max_t) + " positions");
  for (int64_t id : prompt)
    if (id < 0 || id >= c.V) return Error("prompt id " + std::to_string(id) + " is outside the vocabulary");
  if (mode_ == LinearMode::kQat) {  // refresh the fake-quantized weights
    std::vector<int64_t> one = {prompt[0]};
    T81_RETURN_IF_ERROR(Forward(one.data(), nullptr, 1, 1).status());
  }
  // Tokens go through the model in chunks at positions [p0, p0 + n): the prompt in chunks of up
  // to kChunk (packed GEMMs instead of one GEMV per token and weight), then one new token at a
  // time. Every row is computed exactly as alone: linear layers are per row, attention of row r
  // reads the KV cache up to its own position.
  constexpr int64_t kChunk = 64;
  const int64_t C = c.C, QKV = c.qkv_dim(), AH = c.NH * c.HD, KVW = c.NKV * c.HD;
  const int64_t P = int64_t(prompt.size());
  const int64_t R = std::min(P, kChunk);  // rows of the chunk buffers
  // KV cache (L, NKV, TC, HD) for the TC = prompt + new positions this call can reach: each head's
  // keys and values are contiguous in position, so attention streams them (a (L, T, NKV·HD)
  // layout reads HD floats per 4 KiB stride).
  const int64_t TC = P + n_new;
  std::vector<float> kc(size_t(c.L * TC * KVW)), vc(kc.size());
  auto buf = [](int64_t n) { return std::vector<float>(static_cast<size_t>(n)); };
  std::vector<float> x = buf(R * C), h = buf(R * C), qkv = buf(R * QKV), y = buf(R * AH), o = buf(R * C),
                     fc = buf(R * c.fc_dim()), act = buf(R * c.FF), logits = buf(c.V),
                     scores = buf(R * c.NH * TC), mean = buf(R), rstd = buf(R);
  std::vector<int64_t> pos(static_cast<size_t>(R));
  nn::RopeTable rope;
  if (!c.learned_pos()) rope = nn::RopeTable(c.HD, c.max_t, c.rope_theta);
  std::vector<int64_t> out = prompt;
  out.reserve(size_t(P + n_new));
  const float scale = float(1.0 / std::sqrt(double(c.HD)));
  if (all_logits) all_logits->clear();
  const double t_start = base::NowSeconds();
  double t_prompt = t_start;
  for (int64_t p0 = 0; p0 < int64_t(out.size()) && int64_t(out.size()) < P + n_new;) {
    const int64_t n = p0 < P ? std::min(kChunk, P - p0) : 1;
    for (int64_t r = 0; r < n; ++r) {
      const int64_t id = out[size_t(p0 + r)];
      pos[size_t(r)] = p0 + r;
      EmbedRow(id, x.data() + r * C);
      if (c.learned_pos()) AddInPlace(x.data() + r * C, params_.data() + off_wpe_ + (p0 + r) * C, C);
    }
    for (int64_t l = 0; l < c.L; ++l) {
      const Layer ly = LayerAt(params_, l);
      if (c.layernorm()) nn::LayerNormForward(h.data(), mean.data(), rstd.data(), x.data(), ly.ln1_w, ly.ln1_b, n, C, c.eps);
      else nn::RmsNormForward(h.data(), rstd.data(), x.data(), ly.ln1_w, n, C, c.eps);
      Linear(qkv.data(), h.data(), l, 0, ly.qkv_b, n, C, QKV);
      if (!c.learned_pos()) {
        nn::RopeForward(qkv.data(), n, c.NH, c.HD, QKV, pos.data(), rope);
        nn::RopeForward(qkv.data() + AH, n, c.NKV, c.HD, QKV, pos.data(), rope);
      }
      float* kl = kc.data() + (l * TC) * KVW;
      float* vl = vc.data() + (l * TC) * KVW;
      for (int64_t r = 0; r < n; ++r)
        for (int64_t g = 0; g < c.NKV; ++g) {
          const float* kv = qkv.data() + r * QKV + AH + g * c.HD;
          std::memcpy(kl + (g * TC + p0 + r) * c.HD, kv, size_t(c.HD) * 4);
          std::memcpy(vl + (g * TC + p0 + r) * c.HD, kv + KVW, size_t(c.HD) * 4);
        }
      // (row, head) pairs in parallel once there is enough context to pay for the fork.
#pragma omp parallel for schedule(static) if (n * (p0 + n) >= 32)
      for (int64_t rh = 0; rh < n * c.NH; ++rh) {
        const int64_t r = rh / c.NH, hh = rh % c.NH, p = p0 + r;
        const int64_t g = hh / (c.NH / c.NKV);
        const float* kg = kl + g * TC * c.HD;
        const float* vg = vl + g * TC * c.HD;
        const float* q = qkv.data() + r * QKV + hh * c.HD;
        float* sc = scores.data() + rh * TC;
        float mx = -INFINITY;
        for (int64_t s = 0; s <= p; ++s) {
          float dot = 0;
          const float* kv = kg + s * c.HD;
#pragma omp simd reduction(+ : dot)
          for (int64_t i = 0; i < c.HD; ++i) dot += q[i] * kv[i];
          sc[s] = dot * scale;
          mx = std::max(mx, sc[s]);
        }
        double sum = 0;
        for (int64_t s = 0; s <= p; ++s) sum += (sc[s] = std::exp(sc[s] - mx));
        float* yh = y.data() + r * AH + hh * c.HD;
        std::fill(yh, yh + c.HD, 0.0f);
        for (int64_t s = 0; s <= p; ++s) {
          const float w = float(sc[s] / sum);
          const float* vv = vg + s * c.HD;
          for (int64_t i = 0; i < c.HD; ++i) yh[i] += w * vv[i];
        }
      }
      Linear(o.data(), y.data(), l, 1, ly.o_b, n, AH, C);
      AddInPlace(x.data(), o.data(), n * C);
      if (c.layernorm()) nn::LayerNormForward(h.data(), mean.data(), rstd.data(), x.data(), ly.ln2_w, ly.ln2_b, n, C, c.eps);
      else nn::RmsNormForward(h.data(), rstd.data(), x.data(), ly.ln2_w, n, C, c.eps);
      Linear(fc.data(), h.data(), l, 2, ly.fc_b, n, C, c.fc_dim());
      if (c.swiglu()) nn::SwiGluForward(act.data(), fc.data(), n, c.FF);
      else if (c.gelu_erf) nn::GeluErfForward(act.data(), fc.data(), n * c.FF);
      else nn::GeluTanhForward(act.data(), fc.data(), n * c.FF);
      Linear(o.data(), act.data(), l, 3, ly.proj_b, n, c.FF, C);
      AddInPlace(x.data(), o.data(), n * C);
    }
    p0 += n;
    if (p0 < P) continue;  // inside the prompt: only fill the cache
    // The next token from the chunk's last row.
    const float* xl = x.data() + (n - 1) * C;
    if (c.layernorm())
      nn::LayerNormForward(h.data(), mean.data(), rstd.data(), xl, params_.data() + off_lnf_w_, params_.data() + off_lnf_b_, 1, C, c.eps);
    else
      nn::RmsNormForward(h.data(), rstd.data(), xl, params_.data() + off_lnf_w_, 1, C, c.eps);
    Head(logits.data(), h.data(), 1);
    out.push_back(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (all_logits) all_logits->insert(all_logits->end(), logits.begin(), logits.end());
    if (p0 == P) t_prompt = base::NowSeconds();  // the first new token is the prompt's output
  }
  if (timing) {
    timing->prompt_s = t_prompt - t_start;
    timing->eval_s = base::NowSeconds() - t_prompt;
  }
  return out;
}

Result<std::unique_ptr<DecoderLM>> DecoderLM::LoadGguf(const std::string& path) {
  T81_ASSIGN_OR_RETURN(auto f, io::GgufFile::Open(path));
  const io::GgufValue* av = f->Find("general.architecture");
  if (!av || av->type != io::GgufType::kString) return Error(path + ": missing general.architecture");
  DecoderConfig c;
  if (av->s == "gpt2") c.arch = Arch::kGpt2;
  else if (av->s == "llama") c.arch = Arch::kLlama;
  else if (av->s == "phi3") c.arch = Arch::kPhi3;
  else return Error(path + ": architecture '" + av->s + "' is not supported (gpt2, llama, phi3)");
  const std::string a = av->s;
  auto get_u = [&](const std::string& key, int64_t* out, bool required) -> Status {
    const io::GgufValue* v = f->Find(key);
    if (!v) return required ? Error(path + ": missing key " + key) : OkStatus();
    if (v->type != io::GgufType::kU32 && v->type != io::GgufType::kI32 && v->type != io::GgufType::kU64)
      return Error(path + ": key " + key + " is not an integer");
    if (v->i <= 0) return Error(path + ": key " + key + " must be positive");
    *out = v->i;
    return OkStatus();
  };
  T81_RETURN_IF_ERROR(get_u(a + ".context_length", &c.max_t, true));
  T81_RETURN_IF_ERROR(get_u(a + ".embedding_length", &c.C, true));
  T81_RETURN_IF_ERROR(get_u(a + ".block_count", &c.L, true));
  T81_RETURN_IF_ERROR(get_u(a + ".feed_forward_length", &c.FF, true));
  T81_RETURN_IF_ERROR(get_u(a + ".attention.head_count", &c.NH, true));
  c.NKV = c.NH;
  T81_RETURN_IF_ERROR(get_u(a + ".attention.head_count_kv", &c.NKV, false));
  if (c.C % c.NH || c.NH % c.NKV) return Error(path + ": head counts do not divide the embedding");
  c.HD = c.C / c.NH;
  const io::GgufTensor* emb = f->FindTensor("token_embd.weight");
  if (!emb || emb->ne.size() != 2 || emb->ne[0] != c.C) return Error(path + ": missing or malformed token_embd.weight");
  c.V = emb->ne[1];
  c.tied = f->FindTensor("output.weight") == nullptr;
  const std::string eps_key = c.arch == Arch::kGpt2 ? a + ".attention.layer_norm_epsilon" : a + ".attention.layer_norm_rms_epsilon";
  const io::GgufValue* eps = f->Find(eps_key);
  if (!eps || eps->type != io::GgufType::kF32) return Error(path + ": missing key " + eps_key);
  c.eps = float(eps->f);
  if (const io::GgufValue* fb = f->Find(a + ".rope.freq_base")) c.rope_theta = fb->f;
  if (const io::GgufValue* rd = f->Find(a + ".rope.dimension_count"); rd && rd->i != c.HD)
    return Error(path + ": rope.dimension_count " + std::to_string(rd->i) + " != head size (partial RoPE is not supported)");
  c.attn_bias = c.mlp_bias = c.arch == Arch::kGpt2;
  std::unique_ptr<DecoderLM> m(new DecoderLM(c));
  m->config_json_ = DecoderConfigJson(c);
  m->Layout();
  // Every HF tensor of the layout comes from its GGUF counterpart (inverse of the exporter).
  // Ternary block linears are assembled straight from the file's TQ blocks into the packed
  // weights (their float copies are never written, so those pages never become resident);
  // everything else is dequantized into the float arena.
  const int64_t n_lin = c.L * 4;
  std::vector<quant::TernaryMatrix> tern(static_cast<size_t>(n_lin));
  bool all_ternary = true, any_ternary = false;
  std::vector<std::pair<const HfTensorMap*, const io::GgufTensor*>> deferred;  // TQ tensors if mixed
  // A Q8_0 or F16 token embedding stays in its file precision only when the linears end up
  // packed (decided after the loop); when tied it is also the head.
  auto keepable = [&c](const io::GgufTensor* t) {
    return t && ((t->type == io::kGgmlQ8_0 && c.C % quant::kQ8Block == 0) || t->type == io::kGgmlF16);
  };
  const io::GgufTensor* low_embd = f->FindTensor("token_embd.weight");
  if (!keepable(low_embd)) low_embd = nullptr;
  for (const HfTensorMap& h : m->hf_) {
    const std::string gname = GgufTensorName(h.name, c.arch);
    const io::GgufTensor* g = f->FindTensor(gname);
    if (!g) return Error(path + ": missing tensor '" + gname + "'");
    const bool conv1d = h.transpose;  // GPT-2 Conv1D: GGUF holds (out, in) = the internal layout
    const int64_t rows = h.nrows, cols = h.cols;
    const std::vector<int64_t> want = h.shape.size() == 1 ? std::vector<int64_t>{h.shape[0]} : std::vector<int64_t>{cols, rows};
    if (g->ne != want)
      return Error(path + ": tensor '" + gname + "' has a shape that does not match the model's hyperparameters");
    const bool rope_q = c.arch == Arch::kLlama && gname.find("attn_q.weight") != std::string::npos;
    const bool rope_k = c.arch == Arch::kLlama && gname.find("attn_k.weight") != std::string::npos;
    const int64_t heads = rope_q ? c.NH : c.NKV;
    int64_t l;
    int k;
    const bool is_tq = g->type == io::kGgmlTq1_0 || g->type == io::kGgmlTq2_0;
    if (m->BlockLinearOf(h, &l, &k)) {
      if (!is_tq) {
        all_ternary = false;
      } else {
        any_ternary = true;
        quant::TernaryMatrix& t = tern[size_t(l * 4 + k)];
        const quant::TqFormat fmt = g->type == io::kGgmlTq1_0 ? quant::TqFormat::kTq1_0 : quant::TqFormat::kTq2_0;
        if (t.data.empty()) {
          m->StartTernary(k, fmt, &t);
        } else if (t.format != fmt) {
          return Error(path + ": tensor '" + gname + "' mixes TQ1_0 and TQ2_0 within one fused matrix");
        }
        const size_t row_bytes = size_t(t.blocks_per_row() * quant::TqBlockBytes(fmt));
        const uint8_t* src = f->data(*g);
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t dst_r = rope_q || rope_k ? RopeHfRow(r, rows / heads) : r;
          std::memcpy(t.data.data() + size_t(h.row0 + dst_r) * row_bytes, src + size_t(r) * row_bytes, row_bytes);
        }
        f->Release(*g);
        deferred.push_back({&h, g});
        continue;
      }
    }
    float* dst = m->params_.data() + h.offset + h.row0 * h.cols;
    (void)conv1d;
    if (g == low_embd) continue;  // kept as it is or dequantized after the loop
    if (rope_q || rope_k) {
      T81_ASSIGN_OR_RETURN(std::vector<float> v, f->Dequantize(*g));
      v = UnpermuteRope(v, rows, cols, heads);
      std::memcpy(dst, v.data(), v.size() * 4);
    } else {
      T81_RETURN_IF_ERROR(f->DequantizeInto(*g, dst));  // straight into the arena: no second copy
    }
    f->Release(*g);
  }
  const bool packed = any_ternary && all_ternary;
  if (packed) m->UseFileTernary(std::move(tern));  // first: frees the assembled TQ copies
  // Heads and embeddings kept in file precision are repacked with their file pages dropped
  // every 1024 rows, so the load never holds both copies whole.
  auto dropping = [&f, V = c.V](const io::GgufTensor* t) -> kernels::RowsDoneFn {
    const uint64_t row_bytes = t->bytes / uint64_t(V);
    return [&f, t, row_bytes](int64_t r0, int64_t r1) { f->Release(*t, uint64_t(r0) * row_bytes, uint64_t(r1) * row_bytes); };
  };
  auto keep = [&](const io::GgufTensor* t, FileMatrix* out) {
    if (t->type == io::kGgmlQ8_0)
      out->q8 = std::make_unique<kernels::Q8Weights>(kernels::RepackQ8_0(f->data(*t), c.V, c.C, dropping(t)));
    else
      out->f16 = std::make_unique<kernels::F16Weights>(
          kernels::RepackF16(reinterpret_cast<const uint16_t*>(f->data(*t)), c.V, c.C, dropping(t)));
  };
  const io::GgufTensor* head = f->FindTensor(c.tied ? "token_embd.weight" : "output.weight");
  if (keepable(head)) keep(head, &m->head_file_);
  if (low_embd && packed) {
    if (!c.tied) keep(low_embd, &m->embd_file_);
    m->wte_src_ = c.tied ? &m->head_file_ : &m->embd_file_;
  } else if (low_embd) {
    T81_RETURN_IF_ERROR(f->DequantizeInto(*low_embd, m->params_.data() + m->off_wte_));
  }
  if (any_ternary && !packed) {  // mixed file: run everything in float
    for (const auto& [h, g] : deferred) {
      T81_ASSIGN_OR_RETURN(std::vector<float> v, f->Dequantize(*g));
      const std::string gname = g->name;
      if (c.arch == Arch::kLlama && (gname.find("attn_q.weight") != std::string::npos || gname.find("attn_k.weight") != std::string::npos))
        v = UnpermuteRope(v, h->nrows, h->cols, gname.find("attn_q") != std::string::npos ? c.NH : c.NKV);
      std::memcpy(m->params_.data() + h->offset + h->row0 * h->cols, v.data(), v.size() * 4);
    }
  }
  return m;
}

}  // namespace t81::models
