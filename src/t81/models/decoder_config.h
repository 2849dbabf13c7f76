// Decoder-only causal language models t81 runs: GPT-2, Llama and Phi-3, their hyperparameters,
// and the Hugging Face config.json that describes them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "t81/base/status.h"
#include "t81/nn/block_params.h"

namespace t81::models {

enum class Arch : uint8_t { kGpt2, kLlama, kPhi3 };
const char* ArchName(Arch a);                 // "gpt2", "llama", "phi3": HF model_type and GGUF architecture
Result<Arch> ParseArch(std::string_view name);  // inverse of ArchName

// Most blocks a checkpoint may declare (real models have < 200); a larger count in a config or
// GGUF header is refused before any per-layer table is built.
inline constexpr int64_t kMaxLayers = 4096;

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
  // The configuration of each of the L transformer blocks.
  nn::BlockConfig block() const;
};

// Reads config.json (HF field names; both rope_parameters and top-level rope_theta accepted).
Result<DecoderConfig> LoadDecoderConfig(const std::string& config_path);
// The HF config.json text for cfg (inverse of LoadDecoderConfig).
std::string DecoderConfigJson(const DecoderConfig& cfg);

}  // namespace t81::models
