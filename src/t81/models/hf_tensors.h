// Hugging Face checkpoint tensors and where they live inside a model. Every fact about a tensor
// that loaders, savers, converters and exporters need (which block linear it is, whether HF
// stores it transposed, whether llama.cpp permutes its rows for RoPE, its GGUF name) is decided
// here, once, when a model builds its map — never again from the tensor's name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/io/safetensors.h"
#include "t81/nn/block_params.h"

namespace t81::models {

// A tensor by name, in checkpoint layout.
struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// One HF tensor <-> rows [row0, row0 + nrows) of an internal (rows, cols) tensor at `offset` in
// a model's parameter arena (internal layout: linear weights (out, in), q/k/v and gate/up fused).
struct HfTensor {
  std::string name;            // checkpoint name
  std::string grad_name;       // the gradient's name in golden files (transformers' module names)
  std::vector<int64_t> shape;  // checkpoint shape
  size_t offset = 0;
  int64_t cols = 1, row0 = 0, nrows = 0;
  bool transpose = false;      // HF stores it (cols, nrows): GPT-2 Conv1D weights are (in, out)
  int64_t layer = -1;          // for block linears: the block, and which of its linears
  std::optional<nn::BlockLinear> linear;
  int64_t rope_heads = 0;      // Llama q/k weights: heads whose rows llama.cpp interleaves for RoPE
  bool norm_weight = false;    // a norm's scale (initialized to 1; other 1-D tensors to 0)
  std::string gguf;            // llama.cpp's tensor name (empty: not exported)

  int64_t numel() const { return nrows * cols; }
  size_t first() const { return offset + size_t(row0 * cols); }  // arena index of its first value
};

// Hugging Face init of tensor h (index i of its map) in checkpoint layout: norm weights 1, other
// 1-D tensors (biases) 0, everything else N(0, 0.02) from random streams of its own (seed, i) —
// so a model can be made tensor by tensor, in any order, with the same values.
void InitHfValues(const HfTensor& h, size_t i, uint64_t seed, float* values);

// Every tensor of map initialized (InitHfValues, seed) into its rows of arena.
void InitHfArena(const std::vector<HfTensor>& map, uint64_t seed, float* arena);
// A model folder made tensor by tensor (one tensor in memory at a time): model.safetensors with
// the map's tensors in `dtype`, each InitHfValues(h, i, seed), then config.json; both atomic.
Status WriteInitFolder(const std::vector<HfTensor>& map, const std::string& config_json, uint64_t seed, io::DType dtype,
                       const std::string& out_dir);
// Arena ranges [begin, end) of the map's 1-D tensors (norms, biases) and of the tensors named in
// also (by checkpoint name): sorted and merged, for ParamArena::SetNoDecay.
std::vector<std::pair<size_t, size_t>> NoDecayRanges(const std::vector<HfTensor>& map,
                                                     const std::vector<std::string>& also = {});

// "[2, 3]"
std::string ShapeString(const std::vector<int64_t>& shape);
// hf (checkpoint layout, numel values) -> rows (nrows, cols) in the internal orientation.
void HfToRows(const HfTensor& h, const float* hf, float* rows);
// rows (nrows, cols) -> hf (checkpoint layout).
void RowsToHf(const HfTensor& h, const float* rows, float* hf);
// Every tensor of map is in the checkpoint with the map's shape (dir names the checkpoint in errors).
Status CheckHfTensors(const std::vector<HfTensor>& map, const io::Checkpoint& ckpt, const std::string& dir);
// One tensor of the map read from the checkpoint as rows (nrows, cols), its file pages released
// after the read (streaming: the resident set stays near one tensor).
Result<std::vector<float>> ReadHfRows(const HfTensor& h, const io::Checkpoint& ckpt, const std::string& dir);
// Reads every tensor of map from a checkpoint (dir: its folder, for errors) into arena, each
// shape checked against the map's.
Status ReadHfTensors(const std::vector<HfTensor>& map, const io::Checkpoint& ckpt, const std::string& dir, float* arena);
// Every tensor of map with its values from arena (null: zeros); grad_names: named as gradients.
std::vector<NamedTensor> ExportHf(const std::vector<HfTensor>& map, const float* arena, bool grad_names);

}  // namespace t81::models
