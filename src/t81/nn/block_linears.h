// The linear layers of a model's L transformer blocks, in one of three modes:
//   kFloat   float32 weights (OpenBLAS);
//   kQat     forward with FakeQuantize(weight) (the one quantizer), straight-through gradient to
//            the float weight;
//   kPacked  inference only: ternary weights repacked once for the kernel table.
// The float weights stay in the model's arena (the BlockParams given to Bind); the fake-quantized
// and packed copies live here. Weights may also come straight from a file and stay as the file
// stores them, the arena's float copies unwritten until MaterializeFloat: TQ blocks run packed
// (UseFileTernary), bf16 / fp16 weights run in kFloat mode through the 16-bit kernels
// (UseFileHalf: a bf16 checkpoint's inference holds 2 bytes a weight, not 4).
#pragma once

#include <cstdint>
#include <vector>

#include "t81/base/status.h"
#include "t81/kernels/kernels.h"
#include "t81/nn/block_params.h"
#include "t81/nn/layers.h"
#include "t81/nn/packed_linear.h"
#include "t81/quant/tq.h"

namespace t81::nn {

enum class LinearMode : uint8_t { kFloat, kQat, kPacked };

// The ternary block linears of a file, assembled part by part (a fused q/k/v or gate/up matrix
// arrives as several tensors) before BlockLinears::UseFileTernary.
class FileTernary {
 public:
  FileTernary(const BlockConfig& c, int64_t blocks);
  // Where rows row0.. of linear k of block l go (TQ blocks, RowBytes(k, fmt) a row); the matrix
  // is created, zero, on first use. Null if the matrix already holds another format.
  uint8_t* Part(int64_t l, BlockLinear k, quant::TqFormat fmt, int64_t row0);
  int64_t RowBytes(BlockLinear k, quant::TqFormat fmt) const;
  int64_t parts() const { return parts_; }       // Part calls so far
  bool complete() const;                         // every matrix of every block started
  std::vector<quant::TernaryMatrix> Take() { return std::move(m_); }  // (L·4), layer-major

 private:
  BlockConfig cfg_;
  std::vector<quant::TernaryMatrix> m_;
  int64_t parts_ = 0;
};

class BlockLinears {
 public:
  // The blocks' float weights and biases (one BlockParams per block); resets to kFloat.
  void Bind(const BlockConfig& c, std::vector<BlockParams> blocks);

  LinearMode mode() const { return mode_; }
  ActPath act() const { return act_; }
  const quant::TernaryOptions& options() const { return opt_; }
  int64_t blocks() const { return int64_t(blocks_.size()); }

  // Switches mode. kPacked ternarizes the float weights with opt (or keeps the file's ternary
  // weights when they came from one); act selects the packed kernels' activation path.
  Status SetMode(LinearMode mode, const quant::TernaryOptions& opt = {}, ActPath act = ActPath::kI8);
  // Runs the L·4 matrices (layer-major, BlockLinear order; FileTernary::Take) packed, exactly as stored in a file
  // (kPacked, block scales). Each matrix is freed as soon as it is repacked.
  void UseFileTernary(std::vector<quant::TernaryMatrix> m);
  // The L·4 matrices (layer-major) as 16-bit floats, run in kFloat mode (inference only).
  void UseFileHalf(std::vector<kernels::HalfWeights> m);
  bool from_file() const { return source_ != Source::kArena; }
  bool from_half() const { return source_ == Source::kFileHalf; }
  // Writes file weights (d · t, or the 16-bit values) into the float weights; a no-op otherwise.
  void MaterializeFloat();

  // kQat: fake-quantizes the current float weights (call after the weights change, before a
  // forward pass). A no-op in the other modes.
  void Refresh();
  // kQat: the forward weight is w + λ·(q(w) − w) (λ in [0, 1]; 1, the default, is q(w) exactly):
  // the quantized weight enters gradually ("fine-tuning LLMs to 1.58 bit"); the gradient still
  // goes straight through to w. Takes effect at the next Refresh.
  void set_qat_lambda(float lambda) { lambda_ = lambda; }
  float qat_lambda() const { return lambda_; }
  // out (N, rows) = inp (N, cols) · Wᵀ + bias of linear k of block l, in the current mode; then
  // the element-wise step post (may be null), inside the bf16 product where that runs.
  void Forward(float* out, const float* inp, int64_t l, BlockLinear k, int64_t N,
               const kernels::GemmEpilogue* post = nullptr);
  // Gradients of Forward: dinp (N, cols) += dout · W (= with kOverwrite; dinp may be null),
  // g.weight(k) += doutᵀ · inp, g.bias(k) += Σ dout. W is the weight Forward used (float, or
  // fake-quantized: straight-through). dinp_post: as LinearBackward's.
  void Backward(float* dinp, const BlockParams& g, const float* dout, const float* inp, int64_t l, BlockLinear k,
                int64_t N, GradWrite dinp_write = GradWrite::kAccumulate,
                const kernels::GemmEpilogue* dinp_post = nullptr);

  // Linear k of block l as float (rows, cols): the float weights, or d · t of file-packed ones.
  void ReadMatrix(int64_t l, BlockLinear k, float* out) const;
  // Bytes of the linears as they are stored in the current mode (float: 4 per weight; packed:
  // TQ blocks with their scales and padding).
  int64_t Bytes() const;
  // Bytes the forward pass of one row reads from the weights (packed: the compute layout's codes
  // and float scales; float and QAT: 4 per weight) — what a memory-bound decode streams.
  int64_t BytesRead() const;

 private:
  size_t Index(int64_t l, BlockLinear k) const { return size_t(l) * kNumBlockLinears + size_t(k); }
  const float* Weight(int64_t l, BlockLinear k) const;  // the weight the forward pass uses

  BlockConfig cfg_;
  std::vector<BlockParams> blocks_;
  LinearMode mode_ = LinearMode::kFloat;
  quant::TernaryOptions opt_;
  ActPath act_ = ActPath::kI8;
  float lambda_ = 1.0f;
  enum class Source : uint8_t { kArena, kFileTernary, kFileHalf };  // where the weights are
  Source source_ = Source::kArena;
  std::vector<kernels::HalfWeights> half_;      // (L·4) kFileHalf
  std::vector<std::vector<float>> qweights_;    // (L·4) kQat: fake-quantized weights
  std::vector<quant::TqFormat> packed_fmt_;     // (L·4) kPacked: storage format of each matrix
  std::vector<kernels::PackedWeights> packed_;  // (L·4) kPacked: compute layout
  kernels::QuantizedActs qa_;                   // int8 activations (scratch)
};

}  // namespace t81::nn
