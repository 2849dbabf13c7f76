#include "t81/nn/block_linears.h"

#include <utility>

#include "t81/base/check.h"
#include "t81/nn/layers.h"
#include "t81/quant/ternary.h"

namespace t81::nn {

FileTernary::FileTernary(const BlockConfig& c, int64_t blocks)
    : cfg_(c), m_(size_t(blocks) * kNumBlockLinears) {}

int64_t FileTernary::RowBytes(BlockLinear k, quant::TqFormat fmt) const {
  return quant::BlocksPerRow(LinearCols(cfg_, k)) * quant::TqBlockBytes(fmt);
}

uint8_t* FileTernary::Part(int64_t l, BlockLinear k, quant::TqFormat fmt, int64_t row0) {
  quant::TernaryMatrix& t = m_[size_t(l) * kNumBlockLinears + size_t(k)];
  if (t.data.empty()) {
    t.format = fmt;
    t.rows = LinearRows(cfg_, k);
    t.cols = LinearCols(cfg_, k);
    t.data.assign(size_t(t.rows * RowBytes(k, fmt)), 0);
  } else if (t.format != fmt) {
    return nullptr;
  }
  ++parts_;
  return t.data.data() + row0 * RowBytes(k, fmt);
}

bool FileTernary::complete() const {
  for (const auto& t : m_)
    if (t.data.empty()) return false;
  return true;
}

void BlockLinears::Bind(const BlockConfig& c, std::vector<BlockParams> blocks) {
  cfg_ = c;
  blocks_ = std::move(blocks);
  mode_ = LinearMode::kFloat;
  source_ = Source::kArena;
  qweights_.clear();
  packed_fmt_.clear();
  packed_.clear();
  half_.clear();
}

Status BlockLinears::SetMode(LinearMode mode, const quant::TernaryOptions& opt, ActPath act) {
  T81_RETURN_IF_ERROR(quant::CheckTernaryOptions(opt));
  // Weights from a file stay as they are where the mode runs them: TQ blocks packed, 16-bit
  // weights in float mode (and as the source of a packing).
  if ((source_ == Source::kFileTernary && mode == LinearMode::kPacked) ||
      (source_ == Source::kFileHalf && mode == LinearMode::kFloat)) {
    mode_ = mode;
    act_ = act;
    if (source_ == Source::kFileHalf) {  // back from a packing of the 16-bit weights
      packed_.clear();
      packed_fmt_.clear();
    }
    return OkStatus();
  }
  if (!(source_ == Source::kFileHalf && mode == LinearMode::kPacked)) MaterializeFloat();
  mode_ = mode;
  opt_ = opt;
  act_ = act;
  qweights_.clear();
  packed_fmt_.clear();
  packed_.clear();
  if (mode == LinearMode::kQat) Refresh();
  if (mode != LinearMode::kPacked) return OkStatus();
  std::vector<float> m;
  for (int64_t l = 0; l < blocks(); ++l)
    for (BlockLinear k : kBlockLinears) {
      const int64_t rows = LinearRows(cfg_, k), cols = LinearCols(cfg_, k);
      const float* w = blocks_[size_t(l)].weight(k);
      if (source_ == Source::kFileHalf) {  // one matrix at a time from the 16-bit weights
        m.resize(size_t(rows * cols));
        ReadMatrix(l, k, m.data());
        w = m.data();
      }
      packed_fmt_.push_back(opt.format);
      packed_.push_back(kernels::Repack(quant::QuantizeMatrix(w, rows, cols, opt)));
    }
  return OkStatus();
}

void BlockLinears::UseFileTernary(std::vector<quant::TernaryMatrix> m) {
  T81_CHECK(int64_t(m.size()) == blocks() * kNumBlockLinears);
  qweights_.clear();
  packed_.clear();
  packed_fmt_.clear();
  half_.clear();
  for (auto& t : m) {  // each file copy is freed as soon as it is repacked
    packed_fmt_.push_back(t.format);
    packed_.push_back(kernels::Repack(t));
    t = quant::TernaryMatrix{};
  }
  mode_ = LinearMode::kPacked;
  opt_.granularity = quant::Granularity::kBlock;
  source_ = Source::kFileTernary;
}

void BlockLinears::UseFileHalf(std::vector<kernels::HalfWeights> m) {
  T81_CHECK(int64_t(m.size()) == blocks() * kNumBlockLinears);
  qweights_.clear();
  packed_.clear();
  packed_fmt_.clear();
  half_ = std::move(m);
  mode_ = LinearMode::kFloat;
  source_ = Source::kFileHalf;
}

void BlockLinears::ReadMatrix(int64_t l, BlockLinear k, float* out) const {
  const int64_t rows = LinearRows(cfg_, k), cols = LinearCols(cfg_, k);
  if (source_ == Source::kArena) {
    const float* w = blocks_[size_t(l)].weight(k);
    std::copy(w, w + rows * cols, out);
    return;
  }
  if (source_ == Source::kFileHalf) {
    for (int64_t r = 0; r < rows; ++r) kernels::DequantRow(half_[Index(l, k)], r, out + r * cols);
    return;
  }
  const kernels::PackedWeights& p = packed_[Index(l, k)];
  std::vector<int8_t> t(size_t(p.n * p.k));
  std::vector<float> d(size_t(p.n * p.kb));
  kernels::UnpackPacked(p, t.data(), d.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      out[r * cols + j] = d[size_t(r * p.kb + j / quant::kBlock)] * float(t[size_t(r * p.k + j)]);
}

void BlockLinears::MaterializeFloat() {
  if (source_ == Source::kArena) return;
  for (int64_t l = 0; l < blocks(); ++l)
    for (BlockLinear k : kBlockLinears) ReadMatrix(l, k, blocks_[size_t(l)].weight(k));
  source_ = Source::kArena;
  half_.clear();
}

void BlockLinears::Refresh() {
  if (mode_ != LinearMode::kQat) return;
  qweights_.resize(blocks_.size() * kNumBlockLinears);
  for (int64_t l = 0; l < blocks(); ++l)
    for (BlockLinear k : kBlockLinears) {
      const int64_t rows = LinearRows(cfg_, k), cols = LinearCols(cfg_, k);
      std::vector<float>& q = qweights_[Index(l, k)];
      q.resize(size_t(rows * cols));
      const float* w = blocks_[size_t(l)].weight(k);
      quant::FakeQuantize(w, rows, cols, opt_.granularity, opt_.threshold, q.data());
      if (lambda_ < 1.0f)
        for (size_t i = 0; i < q.size(); ++i) q[i] = w[i] + lambda_ * (q[i] - w[i]);
    }
}

const float* BlockLinears::Weight(int64_t l, BlockLinear k) const {
  if (mode_ == LinearMode::kQat) return qweights_[Index(l, k)].data();
  return blocks_[size_t(l)].weight(k);
}

void BlockLinears::Forward(float* out, const float* inp, int64_t l, BlockLinear k, int64_t N,
                           const kernels::GemmEpilogue* post) {
  const float* bias = blocks_[size_t(l)].bias(k);
  const int64_t rows = LinearRows(cfg_, k), cols = LinearCols(cfg_, k);
  if (mode_ == LinearMode::kFloat && source_ == Source::kFileHalf) {
    kernels::GemmHalf(kernels::Active(), half_[Index(l, k)], inp, N, cols, out, rows);
    if (bias)
      for (int64_t i = 0; i < N; ++i)
        for (int64_t o = 0; o < rows; ++o) out[i * rows + o] += bias[o];
  } else if (mode_ != LinearMode::kPacked) {
    LinearForward(out, inp, Weight(l, k), bias, N, cols, rows, post);
    return;
  } else {
    const kernels::PackedWeights& w = packed_[Index(l, k)];
    T81_CHECK(w.n == rows && w.k == cols);
    PackedLinear(kernels::Active(), w, act_, inp, N, cols, bias, out, &qa_);
  }
  if (post) ApplyEpilogue(*post, out, rows, N, rows);
}

void BlockLinears::Backward(float* dinp, const BlockParams& g, const float* dout, const float* inp, int64_t l,
                            BlockLinear k, int64_t N, GradWrite dinp_write,
                            const kernels::GemmEpilogue* dinp_post) {
  T81_CHECK(mode_ != LinearMode::kPacked && source_ != Source::kFileHalf, "train on float weights (MaterializeFloat)");
  LinearBackward(dinp, g.weight(k), g.bias(k), dout, inp, Weight(l, k), N, LinearCols(cfg_, k), LinearRows(cfg_, k),
                 dinp_write, dinp_post);
}

int64_t BlockLinears::BytesRead() const {
  if (mode_ != LinearMode::kPacked) return Bytes();  // float (4 or 2 bytes a weight)
  int64_t n = 0;
  for (const auto& p : packed_) n += int64_t(p.codes.size() + p.scales.size() * sizeof(float));
  return n;
}

int64_t BlockLinears::Bytes() const {
  int64_t n = 0;
  if (mode_ == LinearMode::kPacked) {
    for (size_t i = 0; i < packed_.size(); ++i) n += packed_[i].n * packed_[i].kb * quant::TqBlockBytes(packed_fmt_[i]);
    return n;
  }
  const int64_t per_weight = source_ == Source::kFileHalf ? 2 : 4;
  for (BlockLinear k : kBlockLinears) n += per_weight * LinearRows(cfg_, k) * LinearCols(cfg_, k) * blocks();
  return n;
}

}  // namespace t81::nn
