#include "t81/models/gguf_names.h"

#include <cstring>

namespace t81::models {

std::string GgufTensorName(const std::string& hf, Arch arch) {
  static const std::vector<std::pair<std::string, std::string>> kGpt2 = {
      {"ln_1.", "attn_norm."}, {"attn.c_attn.", "attn_qkv."}, {"attn.c_proj.", "attn_output."},
      {"ln_2.", "ffn_norm."},  {"mlp.c_fc.", "ffn_up."},      {"mlp.c_proj.", "ffn_down."}};
  static const std::vector<std::pair<std::string, std::string>> kLlama = {
      {"input_layernorm.", "attn_norm."}, {"self_attn.q_proj.", "attn_q."}, {"self_attn.k_proj.", "attn_k."},
      {"self_attn.v_proj.", "attn_v."},   {"self_attn.qkv_proj.", "attn_qkv."}, {"self_attn.o_proj.", "attn_output."},
      {"post_attention_layernorm.", "ffn_norm."}, {"mlp.gate_proj.", "ffn_gate."}, {"mlp.up_proj.", "ffn_up."},
      {"mlp.gate_up_proj.", "ffn_up."}, {"mlp.down_proj.", "ffn_down."}};
  if (hf == "transformer.wte.weight" || hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "transformer.wpe.weight") return "position_embd.weight";
  if (hf == "transformer.ln_f.weight" || hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "transformer.ln_f.bias") return "output_norm.bias";
  if (hf == "lm_head.weight") return "output.weight";
  const std::string prefix = arch == Arch::kGpt2 ? "transformer.h." : "model.layers.";
  if (hf.rfind(prefix, 0) != 0) return "";
  const size_t dot = hf.find('.', prefix.size());
  const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  const std::string rest = hf.substr(dot + 1);
  for (const auto& [from, to] : arch == Arch::kGpt2 ? kGpt2 : kLlama)
    if (rest.rfind(from, 0) == 0) return "blk." + layer + "." + to + rest.substr(from.size());
  return "";
}

// HF rotate_half row order -> ggml interleaved pairs, per head (llama.cpp's converter permute).
std::vector<float> PermuteRope(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads) {
  std::vector<float> out(w.size());
  const int64_t hd = rows / heads;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < hd / 2; ++j)
      for (int64_t s = 0; s < 2; ++s)
        std::memcpy(out.data() + (h * hd + 2 * j + s) * cols, w.data() + (h * hd + s * hd / 2 + j) * cols, size_t(cols) * 4);
  return out;
}

std::vector<float> UnpermuteRope(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads) {
  std::vector<float> out(w.size());
  const int64_t hd = rows / heads;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < hd / 2; ++j)
      for (int64_t s = 0; s < 2; ++s)
        std::memcpy(out.data() + (h * hd + s * hd / 2 + j) * cols, w.data() + (h * hd + 2 * j + s) * cols, size_t(cols) * 4);
  return out;
}

}  // namespace t81::models
