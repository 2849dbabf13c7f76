#include "t81/nn/packed_linear.h"

#include <algorithm>
#include <string>

namespace t81::nn {

Result<ActPath> ParseActPath(std::string_view s) {
  if (s == "f32") return ActPath::kF32;
  if (s == "int8") return ActPath::kI8;
  if (s == "auto") return ActPath::kAuto;
  return Error("unknown activation path '" + std::string(s) + "' (expected auto, f32 or int8)");
}

const char* ActPathName(ActPath p) { return p == ActPath::kF32 ? "f32" : p == ActPath::kI8 ? "int8" : "auto"; }

void PackedLinear(const kernels::KernelTable& kt, const kernels::PackedWeights& w, ActPath act, const float* inp,
                  int64_t N, int64_t C, const float* bias, float* out, kernels::QuantizedActs* scratch) {
  const int64_t OC = w.n;
  float beta = 0.0f;
  if (bias) {  // y = X·Wᵀ + 1·Y with Y preset to the bias
    for (int64_t i = 0; i < N; ++i) std::copy(bias, bias + OC, out + i * OC);
    beta = 1.0f;
  }
  if (act == ActPath::kI8 || (act == ActPath::kAuto && OC >= kAutoI8MinOutputs)) {
    kernels::QuantizeActs(kt, inp, N, C, C, scratch);
    kernels::GemmI8(kt, w, *scratch, out, OC, 1.0f, beta);
  } else {
    kernels::GemmF32(kt, w, inp, N, C, out, OC, 1.0f, beta);
  }
}

}  // namespace t81::nn
