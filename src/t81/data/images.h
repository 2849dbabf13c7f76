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
  // Keeps the first n images (all when n <= 0 or n >= this->n).
  void KeepFirst(int64_t n) {
    if (n <= 0 || n >= this->n) return;
    this->n = n;
    pixels.resize(size_t(n * image_bytes()));
    labels.resize(size_t(n));
  }
};

// CIFAR binary records: CIFAR-10 = 1 label byte + 3072 pixel bytes (3 × 32 × 32, R then G then B
// planes); CIFAR-100 = coarse label byte + fine label byte + 3072 bytes (the fine label is kept).
// classes: 10 or 100. Errors (one line, naming `name`): empty, length not a whole number of
// records, a label byte >= classes (CIFAR-100: also a coarse label >= 20), classes not 10 / 100.
Result<ImageSet> ParseCifar(const std::vector<uint8_t>& bytes, const std::string& name, int classes);

// dataset: "fashion-mnist" | "cifar10" | "cifar100"; split: "train" | "test"; dir "" = the default
// (fashion-mnist: the Debian package's folder; CIFAR has no default and needs dir). CIFAR-10 reads
// data_batch_1..5.bin / test_batch.bin, CIFAR-100 train.bin / test.bin, from dir or from its
// cifar-10-batches-bin / cifar-100-binary subfolder (used when dir lacks the first file). Errors
// name the missing or bad file. A train split is read file by file into one reserved buffer (CIFAR:
// 150 MB of pixels plus one file's bytes at a time); fashion-mnist keeps the IDX bytes (28 x 28, 1 channel).
Result<ImageSet> LoadImageSet(const std::string& dataset, const std::string& dir, const std::string& split);

// What HF's ViTImageProcessor does, as read from preprocessor_config.json.
struct ImageProcessor {
  bool do_resize = true, do_rescale = true, do_normalize = true;
  int64_t height = 224, width = 224;  // "size": {"height", "width"} or a bare int (square), each in 1..4096
  double rescale_factor = 1.0 / 255.0;
  // One per channel, or one for all (Preprocess accepts both; LoadImageProcessor expands to one per channel).
  std::vector<float> mean = {0.5f, 0.5f, 0.5f}, std = {0.5f, 0.5f, 0.5f};
};

// Reads model_dir/preprocessor_config.json when present; without it, ViTImageProcessor's defaults
// resized to (image_size, image_size) with `channels` entries of mean/std 0.5. A file's fields as
// transformers reads them: absent ones take ViTImageProcessor's defaults (size 224 x 224, mean/std
// 0.5, rescale 1/255, all steps on); size {"height","width"} or an int ({"shortest_edge"} refused,
// as ViTImageProcessor refuses it); image_mean/image_std a number (every channel) or a list of
// exactly `channels` numbers, std > 0 as float32; rescale_factor > 0; resample absent or 2;
// image_processor_type / feature_extractor_type absent or ViTImageProcessor(Fast) /
// ViTFeatureExtractor (the fast one's fields are read the same; t81 always does the PIL path).
// One-line errors name the file and field. The size is not compared with image_size: the caller's.
Result<ImageProcessor> LoadImageProcessor(const std::string& model_dir, int64_t image_size, int64_t channels);
// preprocessor_config.json text for p (image_processor_type ViTImageProcessor, resample 2).
std::string ImageProcessorJson(const ImageProcessor& p);

// out (count, channels, p.height, p.width) float: images idx[0..count) of set, processed as HF
// does (resize with PIL's 8-bit bilinear resample, output rounded to 8 bits, then rescale as
// float32(double(x) * rescale_factor) and normalize (x - mean) / std in float32 -- the same
// values as transformers' numpy path). channels = the model's: a grey set's plane is repeated
// (as PIL's convert("RGB") does); an RGB set needs channels == 3. Without resize the set's size
// must equal (p.height, p.width). Errors: channels, mean/std lengths, size, an index outside the set.
// Single-threaded; 32 images 28x28 -> 3 x 224 x 224 take about 5 ms.
Status Preprocess(float* out, const ImageSet& set, const int64_t* idx, int64_t count, const ImageProcessor& p,
                  int64_t channels);

// PIL Image.resize(..., BILINEAR) of one 8-bit plane (src (sh, sw) -> dst (dh, dw)), bit-exact:
// triangle filter scaled by the down-sampling factor, fixed-point coefficients, horizontal then
// vertical pass, each rounded and clipped to 0..255.
void ResizeBilinearU8(uint8_t* dst, int64_t dh, int64_t dw, const uint8_t* src, int64_t sh, int64_t sw);

}  // namespace t81::data
