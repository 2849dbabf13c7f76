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

float* BlockParams::weight(BlockLinear k) const {
  switch (k) {
    case BlockLinear::kQkv: return qkv_w;
    case BlockLinear::kOut: return o_w;
    case BlockLinear::kUp: return up_w;
    case BlockLinear::kDown: return down_w;
  }
  return nullptr;
}

float* BlockParams::bias(BlockLinear k) const {
  switch (k) {
    case BlockLinear::kQkv: return qkv_b;
    case BlockLinear::kOut: return o_b;
    case BlockLinear::kUp: return up_b;
    case BlockLinear::kDown: return down_b;
  }
  return nullptr;
}

namespace {
// Lays the block out from p (p null: only counts); returns the floats taken.
int64_t Lay(const BlockConfig& c, float* p, BlockParams* out) {
  int64_t n = 0;
  auto take = [&](float** dst, int64_t count, bool present) {
    if (!present) return;
    if (p) *dst = p + n;
    n += count;
  };
  const bool ln = c.layernorm();
  BlockParams b;
  take(&b.ln1_w, c.C, true);
  take(&b.ln1_b, c.C, ln);
  take(&b.qkv_w, c.qkv_dim() * c.C, true);
  take(&b.qkv_b, c.qkv_dim(), c.attn_bias);
  take(&b.o_w, c.C * c.attn_dim(), true);
  take(&b.o_b, c.C, c.attn_bias);
  take(&b.ln2_w, c.C, true);
  take(&b.ln2_b, c.C, ln);
  take(&b.up_w, c.up_dim() * c.C, true);
  take(&b.up_b, c.up_dim(), c.mlp_bias);
  take(&b.down_w, c.C * c.FF, true);
  take(&b.down_b, c.C, c.mlp_bias);
  if (out) *out = b;
  return n;
}
}  // namespace

int64_t BlockParamCount(const BlockConfig& c) { return Lay(c, nullptr, nullptr); }

BlockParams BlockParamsAt(const BlockConfig& c, float* p) {
  BlockParams b;
  Lay(c, p, &b);
  return b;
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
