// Image classification sets as 8-bit pixels (Fashion-MNIST from IDX, CIFAR-10 / CIFAR-100 from
// their binary versions), and the Hugging Face ViT image processor that turns them into model
// input: resize (bilinear, as PIL does it on 8-bit images) -> rescale (1/255) -> normalize
// (mean, std per channel), grey repeated to 3 channels when the model wants 3.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "t81/base/status.h"

namespace t81::data {

struct ImageSet {
  std::string name;  // "fashion-mnist" | "cifar10" | "cifar100"
  int64_t n = 0, channels = 0, height = 0, width = 0, classes = 0;
  std::vector<uint8_t> pixels;  // (n, channels, height, width), channel-planar as CIFAR stores them
  std::vector<int32_t> labels;  // (n), each in [0, classes)
  int64_t image_bytes() const { return channels * height * width; }
};

// CIFAR binary records: CIFAR-10 = 1 label byte + 3072 pixel bytes (3 × 32 × 32, R then G then B
// planes); CIFAR-100 = coarse label byte + fine label byte + 3072 bytes (the fine label is kept).
// classes: 10 or 100. Errors (one line, naming `name`): empty, length not a whole number of
// records, a label byte >= classes.
Result<ImageSet> ParseCifar(const std::vector<uint8_t>& bytes, const std::string& name, int classes);

// dataset: "fashion-mnist" | "cifar10" | "cifar100"; split: "train" | "test"; dir "" = the default
// (fashion-mnist: the Debian package's folder; CIFAR has no default and needs dir). CIFAR-10 reads
// data_batch_1..5.bin / test_batch.bin, CIFAR-100 train.bin / test.bin, from dir or from its
// cifar-10-batches-bin / cifar-100-binary subfolder. Errors name the missing or bad file.
Result<ImageSet> LoadImageSet(const std::string& dataset, const std::string& dir, const std::string& split);

// What HF's ViTImageProcessor does, as read from preprocessor_config.json.
struct ImageProcessor {
  bool do_resize = true, do_rescale = true, do_normalize = true;
  int64_t height = 224, width = 224;  // "size": {"height", "width"} (or a bare int / shortest_edge)
  double rescale_factor = 1.0 / 255.0;
  std::vector<float> mean = {0.5f, 0.5f, 0.5f}, std = {0.5f, 0.5f, 0.5f};  // one per channel (or one for all)
};

// Reads model_dir/preprocessor_config.json when present; without it, ViTImageProcessor's defaults
// resized to (image_size, image_size) with `channels` entries of mean/std 0.5. Checks mean/std
// lengths (1 or channels), positive std, positive sizes.
Result<ImageProcessor> LoadImageProcessor(const std::string& model_dir, int64_t image_size, int64_t channels);
// preprocessor_config.json text for p (image_processor_type ViTImageProcessor, resample 2).
std::string ImageProcessorJson(const ImageProcessor& p);

// out (count, channels, p.height, p.width) float: images idx[0..count) of set, processed as HF
// does (resize with PIL's 8-bit bilinear resample, output rounded to 8 bits, then rescale and
// normalize). channels = the model's: 3 from a grey set repeats the plane; 1 from RGB is refused.
// Without resize the set's size must equal (p.height, p.width).
Status Preprocess(float* out, const ImageSet& set, const int64_t* idx, int64_t count, const ImageProcessor& p,
                  int64_t channels);

// PIL Image.resize(..., BILINEAR) of one 8-bit plane (src (sh, sw) -> dst (dh, dw)), bit-exact:
// triangle filter scaled by the down-sampling factor, fixed-point coefficients, horizontal then
// vertical pass, each rounded and clipped to 0..255.
void ResizeBilinearU8(uint8_t* dst, int64_t dh, int64_t dw, const uint8_t* src, int64_t sh, int64_t sw);

}  // namespace t81::data
