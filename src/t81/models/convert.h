// t81 checkpoints (docs/formats.md): a Hugging Face decoder checkpoint with every block linear
// ternarized by t81's quantizer and stored as TQ blocks; embeddings, head and norms in float
// (F32 or F16) or Q8_0. ConvertCheckpoint streams tensor by tensor: memory is bounded by the
// largest tensor. DecoderLM::LoadT81 reads them.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "t81/base/status.h"
#include "t81/io/safetensors.h"
#include "t81/models/hf_tensors.h"
#include "t81/quant/tq.h"

namespace t81::models {

inline constexpr const char* kT81CheckpointFile = "model.t81.safetensors";

enum class FloatType : uint8_t { kF32, kF16, kQ8_0 };
Result<FloatType> ParseFloatType(std::string_view s);  // f32 | f16 | q8_0

struct ConvertOptions {
  quant::TernaryOptions ternary;           // the block linears
  FloatType float_type = FloatType::kF32;  // non-ternary tensors (Q8_0: 2-D ones whose rows are
                                           // whole 32-blocks; the rest F32)
  bool progress = true;                    // "[convert] i/n tensors" lines on stderr
};

struct ConvertReport {
  int64_t ternary_tensors = 0, float_tensors = 0;
  int64_t source_bytes = 0, ternary_source_bytes = 0, out_bytes = 0, ternary_out_bytes = 0;
  int64_t largest_tensor_bytes = 0;
};

// The tokenizer files ConvertCheckpoint copies from the source folder when they exist.
inline constexpr const char* kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                                                  "encoder.json", "vocab.bpe", "special_tokens_map.json",
                                                  "generation_config.json"};

// Also copies config.json and the tokenizer files (kTokenizerFiles) into out_dir, atomically.
Result<ConvertReport> ConvertCheckpoint(const std::string& hf_dir, const std::string& out_dir,
                                        const ConvertOptions& opt);

// The metadata of a t81 checkpoint file, read once: the TQ format of its ternary tensors, how they
// were quantized (as written, for display) and which U8 tensors hold Q8_0 blocks.
struct T81Meta {
  quant::TqFormat format = quant::TqFormat::kTq2_0;
  std::string granularity, threshold;  // empty if not recorded
  std::set<std::string> q8_0;
  bool IsQ8(const std::string& name) const { return q8_0.count(name) > 0; }
};
Result<T81Meta> ReadT81Meta(const io::SafeTensorsFile& f);

// A tensor of a t81 checkpoint as float rows (nrows, cols) in the internal orientation: ternary
// block linears as d · t, Q8_0 tensors as d · q, float ones as stored; checked against h.
Result<std::vector<float>> ReadT81Rows(const HfTensor& h, const io::SafeTensorsFile& f, const T81Meta& meta);

}  // namespace t81::models
