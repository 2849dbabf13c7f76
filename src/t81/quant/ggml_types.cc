#include "t81/quant/ggml_types.h"

#include "t81/quant/q8_0.h"
#include "t81/quant/tq.h"

namespace t81::quant {

const GgmlTypeInfo* GgmlTypeOf(uint32_t id) {
  static const GgmlTypeInfo kTypes[] = {
      {kGgmlF32, "F32", 1, 4},   {kGgmlF16, "F16", 1, 2},  {2, "Q4_0", 32, 18},   {3, "Q4_1", 32, 20},
      {6, "Q5_0", 32, 22},       {7, "Q5_1", 32, 24},      {9, "Q8_1", 32, 36},   {10, "Q2_K", 256, 84},
      {11, "Q3_K", 256, 110},    {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176}, {14, "Q6_K", 256, 210},
      {15, "Q8_K", 256, 292},    {24, "I8", 1, 1},         {25, "I16", 1, 2},     {26, "I32", 1, 4},
      {27, "I64", 1, 8},         {28, "F64", 1, 8},        {30, "BF16", 1, 2},
      {kGgmlQ8_0, "Q8_0", kQ8Block, sizeof(BlockQ8_0)},
      {kGgmlTq1_0, "TQ1_0", kBlock, sizeof(BlockTq1_0)},
      {kGgmlTq2_0, "TQ2_0", kBlock, sizeof(BlockTq2_0)},
  };
  for (const auto& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

}  // namespace t81::quant
