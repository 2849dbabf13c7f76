#include "t81/quant/q8_0.h"

#include <cmath>
#include <cstring>

#include "t81/base/check.h"
#include "t81/base/fp16.h"

namespace t81::quant {

void QuantizeQ8_0(const float* x, int64_t n, uint8_t* out) {
  T81_CHECK(n % kQ8Block == 0);
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const float* v = x + b * kQ8Block;
    float amax = 0.0f;
    for (int i = 0; i < kQ8Block; ++i) amax = std::fmax(amax, std::fabs(v[i]));
    const float d = amax / 127.0f;  // as ggml: q from the float d, the fp16 d stored
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 blk;
    blk.d = base::Fp32ToFp16(d);
    for (int i = 0; i < kQ8Block; ++i) blk.qs[i] = int8_t(std::roundf(v[i] * id));
    std::memcpy(out + b * kQ8BlockBytes, &blk, sizeof(blk));  // blocks are packed: no alignment
  }
}

void DequantizeQ8_0(const uint8_t* in, int64_t n, float* out) {
  T81_CHECK(n % kQ8Block == 0);
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    BlockQ8_0 blk;
    std::memcpy(&blk, in + b * kQ8BlockBytes, sizeof(blk));
    const float d = base::Fp16ToFp32(blk.d);
    for (int i = 0; i < kQ8Block; ++i) out[b * kQ8Block + i] = d * float(blk.qs[i]);
  }
}

}  // namespace t81::quant
