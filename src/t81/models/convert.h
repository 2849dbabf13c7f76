// t81 convert: stream a Hugging Face decoder checkpoint tensor by tensor into a t81 checkpoint
// (docs/formats.md): every block linear ternarized by t81's quantizer and stored as TQ blocks,
// embeddings, head and norms kept in float (F32 or F16). Memory is bounded by the largest tensor.
#pragma once

#include <cstdint>
#include <string>

#include "t81/base/status.h"
#include "t81/quant/tq.h"

namespace t81::models {

enum class FloatType : uint8_t { kF32, kF16, kQ8_0 };

struct ConvertOptions {
  quant::Granularity granularity = quant::Granularity::kRow;
  float threshold = quant::kDefaultThreshold;
  quant::TqFormat format = quant::TqFormat::kTq2_0;
  FloatType float_type = FloatType::kF32;  // non-ternary tensors (Q8_0: 2-D ones whose rows are
                                           // whole 32-blocks; the rest F32)
};

struct ConvertReport {
  int64_t ternary_tensors = 0, float_tensors = 0;
  int64_t source_bytes = 0, ternary_source_bytes = 0, out_bytes = 0, ternary_out_bytes = 0;
  int64_t largest_tensor_bytes = 0;
};

Result<ConvertReport> ConvertCheckpoint(const std::string& hf_dir, const std::string& out_dir,
                                        const ConvertOptions& opt);

}  // namespace t81::models
