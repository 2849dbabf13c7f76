#include "t81/models/decoder_config.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "t81/io/json_fields.h"

namespace t81::models {

const char* ArchName(Arch a) {
  switch (a) {
    case Arch::kGpt2: return "gpt2";
    case Arch::kLlama: return "llama";
    case Arch::kPhi3: return "phi3";
  }
  return "?";
}

Result<Arch> ParseArch(std::string_view name) {
  for (Arch a : {Arch::kGpt2, Arch::kLlama, Arch::kPhi3})
    if (name == ArchName(a)) return a;
  return Error("architecture '" + std::string(name) + "' is not supported (gpt2, llama, phi3)");
}

nn::BlockConfig DecoderConfig::block() const {
  nn::BlockConfig b;
  b.C = C;
  b.NH = NH;
  b.NKV = NKV;
  b.HD = HD;
  b.FF = FF;
  b.norm = layernorm() ? nn::Norm::kLayerNorm : nn::Norm::kRmsNorm;
  b.act = swiglu() ? nn::Activation::kSwiGlu : gelu_erf ? nn::Activation::kGeluErf : nn::Activation::kGeluTanh;
  b.causal = true;
  b.rope = !learned_pos();
  b.attn_bias = attn_bias;
  b.mlp_bias = mlp_bias;
  b.eps = eps;
  return b;
}

namespace {

constexpr double kMaxTensorValues = double(int64_t(1) << 40);  // per tensor; real models stay below 2^32

Result<DecoderConfig> Gpt2Config(const io::JsonFields& j) {
  const std::string& path = j.path();
  DecoderConfig c;
  c.arch = Arch::kGpt2;
  T81_ASSIGN_OR_RETURN(c.V, j.PositiveInt("vocab_size"));
  T81_ASSIGN_OR_RETURN(c.C, j.PositiveInt("n_embd"));
  T81_ASSIGN_OR_RETURN(c.L, j.PositiveInt("n_layer"));
  T81_ASSIGN_OR_RETURN(c.NH, j.PositiveInt("n_head"));
  T81_ASSIGN_OR_RETURN(c.max_t, j.PositiveInt("n_positions"));
  T81_ASSIGN_OR_RETURN(c.FF, j.PositiveInt("n_inner", 4 * c.C));
  T81_ASSIGN_OR_RETURN(double eps, j.Number("layer_norm_epsilon", 1e-5));
  c.eps = float(eps);
  c.NKV = c.NH;
  if (c.C % c.NH) return Error(path + ": n_embd is not a multiple of n_head");
  c.HD = c.C / c.NH;
  T81_ASSIGN_OR_RETURN(c.tied, j.Bool("tie_word_embeddings", true));
  T81_ASSIGN_OR_RETURN(const std::string act, j.String("activation_function", "gelu_new"));
  if (act == "gelu_new" || act == "gelu_pytorch_tanh") c.gelu_erf = false;
  else if (act == "gelu") c.gelu_erf = true;
  else return Error(path + ": activation_function '" + act + "' is not supported");
  T81_ASSIGN_OR_RETURN(const bool scale_by_layer, j.Bool("scale_attn_by_inverse_layer_idx", false));
  T81_ASSIGN_OR_RETURN(const bool reorder, j.Bool("reorder_and_upcast_attn", false));
  if (scale_by_layer || reorder)
    return Error(path + ": scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported");
  c.attn_bias = c.mlp_bias = true;
  return c;
}

// Llama and Phi-3.
Result<DecoderConfig> LlamaConfig(const io::JsonFields& j, Arch arch) {
  const std::string& path = j.path();
  DecoderConfig c;
  c.arch = arch;
  T81_ASSIGN_OR_RETURN(c.V, j.PositiveInt("vocab_size"));
  T81_ASSIGN_OR_RETURN(c.C, j.PositiveInt("hidden_size"));
  T81_ASSIGN_OR_RETURN(c.L, j.PositiveInt("num_hidden_layers"));
  T81_ASSIGN_OR_RETURN(c.NH, j.PositiveInt("num_attention_heads"));
  T81_ASSIGN_OR_RETURN(c.NKV, j.PositiveInt("num_key_value_heads", c.NH));
  T81_ASSIGN_OR_RETURN(c.FF, j.PositiveInt("intermediate_size"));
  T81_ASSIGN_OR_RETURN(c.max_t, j.PositiveInt("max_position_embeddings"));
  T81_ASSIGN_OR_RETURN(c.HD, j.PositiveInt("head_dim", c.C / c.NH));
  if (c.HD == 0) return Error(path + ": hidden_size is smaller than num_attention_heads (head_dim 0)");
  if (c.NH % c.NKV) return Error(path + ": num_attention_heads is not a multiple of num_key_value_heads");
  if (c.HD % 2) return Error(path + ": head_dim must be even for RoPE");
  T81_ASSIGN_OR_RETURN(double eps, j.Number("rms_norm_eps", 1e-6));
  c.eps = float(eps);
  T81_ASSIGN_OR_RETURN(c.tied, j.Bool("tie_word_embeddings", false));
  T81_ASSIGN_OR_RETURN(const std::string act, j.String("hidden_act", "silu"));
  if (act != "silu") return Error(path + ": hidden_act '" + act + "' is not supported (silu only)");
  T81_ASSIGN_OR_RETURN(c.attn_bias, j.Bool("attention_bias", false));
  T81_ASSIGN_OR_RETURN(c.mlp_bias, j.Bool("mlp_bias", false));
  if (c.arch == Arch::kPhi3 && (c.attn_bias || c.mlp_bias)) return Error(path + ": Phi-3 with biases is not supported");
  // RoPE: transformers >= 5 writes rope_parameters; older checkpoints top-level rope_theta and
  // rope_scaling. Only plain RoPE is supported.
  T81_ASSIGN_OR_RETURN(c.rope_theta, j.Number("rope_theta", 10000.0));
  T81_ASSIGN_OR_RETURN(const nlohmann::json* rp_json, j.Object("rope_parameters"));
  if (rp_json) {
    const io::JsonFields rp(*rp_json, path);
    T81_ASSIGN_OR_RETURN(c.rope_theta, rp.Number("rope_theta", c.rope_theta));
    T81_ASSIGN_OR_RETURN(const std::string rt, rp.String("rope_type", "default"));
    if (rt != "default") return Error(path + ": rope_type '" + rt + "' (rope scaling) is not supported");
    T81_ASSIGN_OR_RETURN(const double partial, rp.Number("partial_rotary_factor", 1.0));
    if (partial != 1.0) return Error(path + ": partial_rotary_factor != 1 is not supported");
  }
  if (j.Has("rope_scaling")) return Error(path + ": rope_scaling (long-context RoPE) is not supported");
  T81_ASSIGN_OR_RETURN(const double partial, j.Number("partial_rotary_factor", 1.0));
  if (partial != 1.0) return Error(path + ": partial_rotary_factor != 1 is not supported");
  return c;
}

}  // namespace

Result<DecoderConfig> LoadDecoderConfig(const std::string& path) {
  T81_ASSIGN_OR_RETURN(const nlohmann::json j, io::ReadJsonObject(path));
  const io::JsonFields f(j, path);
  T81_ASSIGN_OR_RETURN(const std::string type, f.String("model_type"));
  Result<DecoderConfig> c = Error(path + ": model_type '" + type + "' is not a supported causal LM (gpt2, llama, phi3)");
  if (type == "gpt2") c = Gpt2Config(f);
  if (type == "llama") c = LlamaConfig(f, Arch::kLlama);
  if (type == "phi3") c = LlamaConfig(f, Arch::kPhi3);
  if (c.ok() && c->L > kMaxLayers)
    return Error(path + ": " + std::to_string(c->L) + " layers, more than t81's limit of " + std::to_string(kMaxLayers));
  if (c.ok()) {  // products in double: no tensor size computed from these fields may overflow int64
    const double C = double(c->C);
    const double biggest = std::max({double(c->V) * C, double(c->max_t) * C, double(c->qkv_dim()) * C,
                                     double(c->NH) * double(c->HD) * C, double(c->fc_dim()) * C});
    if (biggest > kMaxTensorValues)
      return Error(path + ": a tensor of this model would hold more than 2^40 values (t81's limit)");
  }
  return c;
}

std::string DecoderConfigJson(const DecoderConfig& c) {
  nlohmann::json j;
  if (c.arch == Arch::kGpt2) {
    j = {{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"vocab_size", c.V}, {"n_embd", c.C},
         {"n_layer", c.L}, {"n_head", c.NH}, {"n_positions", c.max_t}, {"n_inner", c.FF},
         {"layer_norm_epsilon", c.eps}, {"activation_function", c.gelu_erf ? "gelu" : "gelu_new"},
         {"tie_word_embeddings", c.tied}, {"attn_pdrop", 0.0}, {"embd_pdrop", 0.0}, {"resid_pdrop", 0.0}};
  } else {
    j = {{"model_type", ArchName(c.arch)},
         {"architectures", {c.arch == Arch::kLlama ? "LlamaForCausalLM" : "Phi3ForCausalLM"}},
         {"vocab_size", c.V}, {"hidden_size", c.C}, {"num_hidden_layers", c.L}, {"num_attention_heads", c.NH},
         {"num_key_value_heads", c.NKV}, {"head_dim", c.HD}, {"intermediate_size", c.FF},
         {"max_position_embeddings", c.max_t}, {"rms_norm_eps", c.eps}, {"hidden_act", "silu"},
         {"rope_theta", c.rope_theta}, {"tie_word_embeddings", c.tied}, {"attention_bias", c.attn_bias},
         {"mlp_bias", c.mlp_bias}};
  }
  return j.dump(2) + "\n";
}

}  // namespace t81::models
