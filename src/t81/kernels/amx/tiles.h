// Internal to kernels/amx/: the tile configuration both AMX routines use (only their files, compiled
// with -mamx-tile, include it).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace t81::kernels::amx {

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

// This thread's tiles tmm0-7 as 16 rows × 64 bytes each (undo with _tile_release()).
inline void ConfigureTiles16x64() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
}

}  // namespace t81::kernels::amx
