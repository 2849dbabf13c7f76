// What a transformer block is made of: its configuration, its four linear layers and where its
// parameters lie in a model's arena. nn/block.h runs it; nn/block_linears.h runs its linears.
#pragma once

#include <cstdint>

namespace t81::nn {

enum class Norm : uint8_t { kLayerNorm, kRmsNorm };
enum class Activation : uint8_t { kGeluTanh, kGeluErf, kSwiGlu };

struct BlockConfig {
  int64_t C = 0, NH = 0, NKV = 0, HD = 0, FF = 0;
  Norm norm = Norm::kLayerNorm;
  Activation act = Activation::kGeluTanh;
  bool causal = true;  // decoders; ViT attends both ways
  bool rope = false;   // rotary positions on q and k (rotate_half convention)
  bool attn_bias = false, mlp_bias = false;
  float eps = 1e-5f;

  bool layernorm() const { return norm == Norm::kLayerNorm; }
  int64_t qkv_dim() const { return (NH + 2 * NKV) * HD; }
  int64_t attn_dim() const { return NH * HD; }
  int64_t up_dim() const { return act == Activation::kSwiGlu ? 2 * FF : FF; }
};

// The block's linear layers, weights (out, in) = (rows, cols):
//   kQkv  (qkv_dim, C)   kOut (C, NH·HD)   kUp (up_dim, C)   kDown (C, FF)
enum class BlockLinear : uint8_t { kQkv = 0, kOut = 1, kUp = 2, kDown = 3 };
inline constexpr int kNumBlockLinears = 4;
inline constexpr BlockLinear kBlockLinears[kNumBlockLinears] = {BlockLinear::kQkv, BlockLinear::kOut,
                                                                BlockLinear::kUp, BlockLinear::kDown};
int64_t LinearRows(const BlockConfig& c, BlockLinear k);
int64_t LinearCols(const BlockConfig& c, BlockLinear k);
const char* BlockLinearName(BlockLinear k);  // "qkv", "out", "up", "down"

// One block's parameters (or their gradients): pointers into an arena, null where the
// configuration has none (LayerNorm biases, linear biases).
struct BlockParams {
  float *ln1_w = nullptr, *ln1_b = nullptr;
  float *qkv_w = nullptr, *qkv_b = nullptr;
  float *o_w = nullptr, *o_b = nullptr;
  float *ln2_w = nullptr, *ln2_b = nullptr;
  float *up_w = nullptr, *up_b = nullptr;
  float *down_w = nullptr, *down_b = nullptr;

  float* weight(BlockLinear k) const;
  float* bias(BlockLinear k) const;
};

// Floats one block's parameters take, and the block laid out from p in the order ln1 (w, b),
// qkv (w, b), out (w, b), ln2 (w, b), up (w, b), down (w, b), absent parts skipped.
int64_t BlockParamCount(const BlockConfig& c);
BlockParams BlockParamsAt(const BlockConfig& c, float* p);
// Hugging Face init of everything but the weight matrices: norm weights 1, biases 0.
void InitNormsAndBiases(const BlockConfig& c, const BlockParams& p);

}  // namespace t81::nn
