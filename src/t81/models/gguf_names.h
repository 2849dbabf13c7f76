// Hugging Face <-> llama.cpp GGUF tensor naming and the Llama q/k row order (HF rotate_half halves
// vs ggml's interleaved RoPE pairs), shared by the GGUF exporter and the GGUF loader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "t81/models/decoder_config.h"

namespace t81::models {

// HF parameter name -> GGUF tensor name; empty if the tensor is not exported.
std::string GgufTensorName(const std::string& hf, Arch arch);
// Row r of a ggml q/k matrix (interleaved RoPE pairs 2j, 2j+1 per head of size hd) is HF row
// RopeHfRow(r, hd) (rotate_half halves j, j + hd/2).
int64_t RopeHfRow(int64_t ggml_row, int64_t hd);
// w (rows, cols), rows = heads · head size: HF order -> ggml order, and back.
std::vector<float> PermuteRope(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads);
std::vector<float> UnpermuteRope(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads);

}  // namespace t81::models
