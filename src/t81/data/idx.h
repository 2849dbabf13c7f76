// IDX files (MNIST / Fashion-MNIST format), gzip-compressed or plain, read whole and validated:
// magic, dimension count, dims vs the bytes present, labels vs images count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "t81/base/status.h"

namespace t81::data {

struct IdxImages {
  int64_t n = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // (n, rows, cols)
};
struct IdxLabels {
  int64_t n = 0;
  std::vector<uint8_t> labels;  // (n)
};

// Whole decompressed content of a gzip (or plain) file.
Result<std::vector<uint8_t>> ReadGzip(const std::string& path);
Result<IdxImages> ParseIdxImages(const std::vector<uint8_t>& bytes, const std::string& name);
Result<IdxLabels> ParseIdxLabels(const std::vector<uint8_t>& bytes, const std::string& name);
Result<IdxImages> ReadIdxImages(const std::string& path);
Result<IdxLabels> ReadIdxLabels(const std::string& path);

// A classification set in memory: x (n, dim) float, y (n) in [0, classes).
struct Dataset {
  int64_t n = 0, dim = 0, classes = 10;
  std::vector<float> x;
  std::vector<int32_t> y;
};

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr int64_t kFashionSide = 28;  // images are 28 x 28; anything else is refused
inline constexpr float kFashionMean = 0.2860f, kFashionStd = 0.3530f;

// A split as stored: 28 x 28 8-bit images and their labels (each checked in 0..9). split: "train"
// or "t10k". Errors name the file, or the Debian package when the folder is missing.
struct FashionRaw {
  IdxImages images;
  std::vector<int32_t> labels;
};
Result<FashionRaw> ReadFashionMnistRaw(const std::string& dir, const std::string& split);

// split: "train" (60,000) or "t10k" (10,000), 28 x 28 images. Pixels scaled to [0,1] then standardized with the
// training set's mean/std. Errors name the file and the Debian package when the folder is missing.
Result<Dataset> LoadFashionMnist(const std::string& dir, const std::string& split);

}  // namespace t81::data
