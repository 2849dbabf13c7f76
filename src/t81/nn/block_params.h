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

// One block's parameters, as pointers into an arena (BlockParams, null where the configuration
// has none: LayerNorm biases, linear biases) or as offsets from the block's start (BlockOffsets,
// -1 where absent).
template <typename T>
struct BlockParts {
  T ln1_w{}, ln1_b{}, qkv_w{}, qkv_b{}, o_w{}, o_b{}, ln2_w{}, ln2_b{}, up_w{}, up_b{}, down_w{}, down_b{};

  T weight(BlockLinear k) const {
    const T w[kNumBlockLinears] = {qkv_w, o_w, up_w, down_w};
    return w[int(k)];
  }
  T bias(BlockLinear k) const {
    const T b[kNumBlockLinears] = {qkv_b, o_b, up_b, down_b};
    return b[int(k)];
  }
  // The same parts through f (e.g. offsets -> pointers).
  template <typename F>
  auto Map(F f) const -> BlockParts<decltype(f(T{}))> {
    return {f(ln1_w), f(ln1_b), f(qkv_w), f(qkv_b), f(o_w), f(o_b),
            f(ln2_w), f(ln2_b), f(up_w),  f(up_b),  f(down_w), f(down_b)};
  }
};
using BlockParams = BlockParts<float*>;
using BlockOffsets = BlockParts<int64_t>;

// The block's layout in the order ln1 (w, b), qkv (w, b), out (w, b), ln2 (w, b), up (w, b),
// down (w, b), absent parts skipped; and the floats it takes.
BlockOffsets BlockLayout(const BlockConfig& c);
int64_t BlockParamCount(const BlockConfig& c);
// The block laid out from p (its gradients: the same from the gradient arena).
BlockParams BlockParamsAt(const BlockConfig& c, float* p);
// Hugging Face init of everything but the weight matrices: norm weights 1, biases 0.
void InitNormsAndBiases(const BlockConfig& c, const BlockParams& p);

}  // namespace t81::nn
