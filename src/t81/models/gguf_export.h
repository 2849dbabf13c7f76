// Export a decoder LM (GPT-2, Llama, Phi-3) to GGUF with llama.cpp's tensor names, layouts and
// required metadata; and validate such a file against its source model.
//
// Block linears go out as TQ1_0 / TQ2_0 (ternarized by t81's quantizer, scales per 256-block),
// F16 or F32; embeddings and head F32, F16 or Q8_0 (embd_type); norms and biases F32. A TQ tensor whose row
// length is not a multiple of 256 goes out as F16, with a warning. Llama's q/k rows are permuted
// from HF's rotate_half order to ggml's interleaved RoPE pairs, as llama.cpp's converter does.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/io/gguf.h"
#include "t81/models/decoder.h"

namespace t81::models {

enum class GgufQuant : uint8_t { kTq1_0, kTq2_0, kF16, kF32 };
Result<GgufQuant> ParseGgufQuant(std::string_view s);

struct GgufExportOptions {
  GgufQuant quant = GgufQuant::kTq2_0;  // the block linears' type
  quant::TernaryOptions ternary;        // how they are ternarized (the TQ format is `quant`'s)
  uint32_t embd_type = quant::kGgmlF32;  // token/position embeddings and head: F32, F16 or Q8_0
  std::string name = "t81";
  // Folder whose tokenizer (text::Tokenizer::Load) goes out as tokenizer.ggml.*; without tokenizer
  // files there (or empty), a placeholder byte vocabulary and a warning.
  std::string tokenizer_dir;
};

struct GgufExportReport {
  std::vector<std::string> warnings;
  int64_t tensors = 0;
};

// Where the exporter reads a tensor: the values of one HF tensor of the map as rows (nrows, cols)
// in the internal (out, in) orientation (DecoderLM::TensorRows; HfCheckpointRows and
// T81CheckpointRows read them straight from files).
using TensorRowsFn = std::function<Result<std::vector<float>>(const HfTensor&)>;

// Writes the GGUF of a decoder with config c and tensor map `map`, reading, encoding and writing
// one tensor at a time (memory: the largest tensor, a few times). Progress on stderr.
Result<GgufExportReport> ExportGguf(const DecoderConfig& c, const std::vector<HfTensor>& map, const TensorRowsFn& rows,
                                    const GgufExportOptions& opt, const std::string& out_path);
Result<GgufExportReport> ExportGguf(const DecoderLM& m, const GgufExportOptions& opt, const std::string& out_path);

// Re-opens path, checks every key and tensor against the source and opt, dequantizes every tensor
// and compares with the source (ternary and F32 exactly, F16 within rounding) — one tensor at a time.
Status ValidateGguf(const DecoderConfig& c, const std::vector<HfTensor>& map, const TensorRowsFn& rows,
                    const GgufExportOptions& opt, const std::string& path);
Status ValidateGguf(const DecoderLM& m, const GgufExportOptions& opt, const std::string& path);

}  // namespace t81::models
