// Internal to kernels/: the per-ISA kernel tables. Each ISA's file (ref/, avx2/, avx512/, compiled
// with its own flags) defines its table; only dispatch.cc picks among them (kernels.h: ForIsa).
#pragma once

#include "t81/kernels/kernels.h"

// For the per-ISA kernel files: fully unroll a loop over a register tile, so that GCC keeps the
// accumulator arrays in registers (scalar replacement needs constant indices; GCC's own unrolling
// heuristics are not reliable there).
#define T81_UNROLL _Pragma("GCC unroll 16")

namespace t81::kernels {
// PREFETCHT0 as an asm statement: GCC 12 drops _mm_prefetch from unrolled loops. ISA-neutral
// (any x86-64), so the kernel files and the drivers share it.
[[gnu::always_inline]] inline void Prefetch(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  (void)p;
#endif
}
}  // namespace t81::kernels

// The float vector operations each ISA's float_ops file defines (float_ops_impl.h).
#define T81_FLOAT_OPS_DECLARATIONS                                                                         \
  void GeluErfForward(float* out, const float* inp, int64_t n);                                            \
  void GeluErfBackward(float* dinp, const float* inp, const float* dout, int64_t n);                       \
  void GeluTanhForward(float* out, const float* inp, int64_t n);                                           \
  void GeluTanhBackward(float* dinp, const float* inp, const float* dout, int64_t n);                      \
  void AttentionHeadForward(const AttnDims& d, int64_t h, const float* qkv, float* out, float* att,         \
                            float* scratch);                                                               \
  void AttentionGroupBackward(const AttnDims& d, int64_t g, const float* qkv, const float* att,            \
                              const float* dout, float* dqkv, float* scratch);                             \
  void AttentionRow(float* out, float* a, const float* q, const float* k, int64_t kstride, const float* v, \
                    int64_t vstride, int64_t n, int64_t HD, float scale);                                  \
  void LayerNormRows(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, \
                     int64_t n, int64_t C, float eps);                                                     \
  void LayerNormRowsBackward(float* dinp, const float* dout, const float* inp, const float* w,             \
                             const float* mean, const float* rstd, int64_t n, int64_t C);                  \
  void LayerNormColsBackward(float* dw, float* db, const float* dout, const float* inp, const float* mean, \
                             const float* rstd, int64_t N, int64_t C, int64_t c0, int64_t c1);             \
  void AdamW(float* p, const float* g, float* m, float* v, int64_t n, const AdamWConsts& k);
#define T81_FLOAT_OPS_ENTRIES \
  GeluErfForward, GeluErfBackward, GeluTanhForward, GeluTanhBackward, AttentionHeadForward, AttentionGroupBackward, \
      AttentionRow, LayerNormRows, LayerNormRowsBackward, LayerNormColsBackward, AdamW

namespace t81::kernels {
namespace ref {
extern const KernelTable kTable;  // the scalar reference: the oracle of every test
T81_FLOAT_OPS_DECLARATIONS
}
namespace avx2 {
extern const KernelTable kTable;
T81_FLOAT_OPS_DECLARATIONS
}
namespace avx512 {
extern const KernelTable kTable;
T81_FLOAT_OPS_DECLARATIONS
}
// The amx table is avx512's; the drivers take these tile-unit routines instead where the table in
// use is amx: GemmI8 for 16 rows of X or more (gemm_i8_amx.cc, threaded inside) and GemmBf16
// (gemm_bf16_amx.cc).
namespace amx {
bool OsGrantsTiles();  // asks Linux once for the tile-data state (arch_prctl); true when granted
void GemmBf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const float* bias,
              const GemmEpilogue* post);
void GemmI8(const PackedWeights& w, const QuantizedActs& x, float* y, int64_t ldy, float alpha, float beta);
}
}  // namespace t81::kernels
