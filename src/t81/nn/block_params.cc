#include "t81/nn/block_params.h"

#include <algorithm>

namespace t81::nn {

int64_t LinearRows(const BlockConfig& c, BlockLinear k) {
  switch (k) {
    case BlockLinear::kQkv: return c.qkv_dim();
    case BlockLinear::kOut: return c.C;
    case BlockLinear::kUp: return c.up_dim();
    case BlockLinear::kDown: return c.C;
  }
  return 0;
}

int64_t LinearCols(const BlockConfig& c, BlockLinear k) {
  switch (k) {
    case BlockLinear::kQkv: return c.C;
    case BlockLinear::kOut: return c.attn_dim();
    case BlockLinear::kUp: return c.C;
    case BlockLinear::kDown: return c.FF;
  }
  return 0;
}

const char* BlockLinearName(BlockLinear k) {
  switch (k) {
    case BlockLinear::kQkv: return "qkv";
    case BlockLinear::kOut: return "out";
    case BlockLinear::kUp: return "up";
    case BlockLinear::kDown: return "down";
  }
  return "?";
}

namespace {
// Offsets of the present parts, -1 for absent ones; *count: the floats taken.
BlockOffsets Lay(const BlockConfig& c, int64_t* count) {
  int64_t n = 0;
  auto take = [&n](int64_t size, bool present) {
    if (!present) return int64_t(-1);
    const int64_t at = n;
    n += size;
    return at;
  };
  const bool ln = c.layernorm();
  BlockOffsets o;
  o.ln1_w = take(c.C, true);
  o.ln1_b = take(c.C, ln);
  o.qkv_w = take(c.qkv_dim() * c.C, true);
  o.qkv_b = take(c.qkv_dim(), c.attn_bias);
  o.o_w = take(c.C * c.attn_dim(), true);
  o.o_b = take(c.C, c.attn_bias);
  o.ln2_w = take(c.C, true);
  o.ln2_b = take(c.C, ln);
  o.up_w = take(c.up_dim() * c.C, true);
  o.up_b = take(c.up_dim(), c.mlp_bias);
  o.down_w = take(c.C * c.FF, true);
  o.down_b = take(c.C, c.mlp_bias);
  *count = n;
  return o;
}
}  // namespace

BlockOffsets BlockLayout(const BlockConfig& c) {
  int64_t n;
  return Lay(c, &n);
}

int64_t BlockParamCount(const BlockConfig& c) {
  int64_t n;
  Lay(c, &n);
  return n;
}

BlockParams BlockParamsAt(const BlockConfig& c, float* p) {
  return BlockLayout(c).Map([p](int64_t off) { return off < 0 ? nullptr : p + off; });
}

void InitNormsAndBiases(const BlockConfig& c, const BlockParams& p) {
  auto fill = [](float* x, int64_t n, float v) {
    if (x) std::fill(x, x + n, v);
  };
  fill(p.ln1_w, c.C, 1.0f);
  fill(p.ln1_b, c.C, 0.0f);
  fill(p.ln2_w, c.C, 1.0f);
  fill(p.ln2_b, c.C, 0.0f);
  for (BlockLinear k : kBlockLinears) fill(p.bias(k), LinearRows(c, k), 0.0f);
}

}  // namespace t81::nn
