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

int64_t RopeHfRow(int64_t ggml_row, int64_t hd) {
  const int64_t head = ggml_row / hd, j = (ggml_row % hd) / 2, s = ggml_row % 2;
  return head * hd + s * hd / 2 + j;
}

namespace {
// ggml row r <-> HF row RopeHfRow(r); to_ggml picks the direction.
std::vector<float> Reorder(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads, bool to_ggml) {
  std::vector<float> out(w.size());
  const int64_t hd = rows / heads;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t hf = RopeHfRow(r, hd);
    std::memcpy(out.data() + (to_ggml ? r : hf) * cols, w.data() + (to_ggml ? hf : r) * cols, size_t(cols) * 4);
  }
  return out;
}
}  // namespace

std::vector<float> PermuteRope(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads) {
  return Reorder(w, rows, cols, heads, true);
}

std::vector<float> UnpermuteRope(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads) {
  return Reorder(w, rows, cols, heads, false);
}

}  // namespace t81::models
