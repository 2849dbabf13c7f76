// The one packed ternary linear layer of every model: out = inp · Wᵀ + bias through the kernel
// table, with the activation path chosen per call (float, int8, or by the layer's width).
#pragma once

#include <cstdint>
#include <string_view>

#include "t81/base/status.h"
#include "t81/kernels/kernels.h"

namespace t81::nn {

// Activation path of the packed kernels: float, int8, or per layer (int8 when the layer has at
// least kAutoI8MinOutputs outputs: quantizing X costs O(M·K) and pays off only over enough outputs).
enum class ActPath : uint8_t { kF32, kI8, kAuto };
inline constexpr int64_t kAutoI8MinOutputs = 64;
Result<ActPath> ParseActPath(std::string_view s);
const char* ActPathName(ActPath p);

// out (N, w.n) = inp (N, C) · Wᵀ + bias (w.n; may be null) through the packed kernels of kt, with
// the activation path act; scratch holds the int8 activations.
void PackedLinear(const kernels::KernelTable& kt, const kernels::PackedWeights& w, ActPath act, const float* inp,
                  int64_t N, int64_t C, const float* bias, float* out, kernels::QuantizedActs* scratch);

}  // namespace t81::nn
