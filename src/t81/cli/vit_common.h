// What `t81 train vit` and `t81 bench vit` share: the image data sets by name, their label names
// and the image processor a model trained here is saved with.
#pragma once

#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/data/images.h"

namespace t81::cli {

// The class names of dataset ("fashion-mnist", "cifar10"); empty for "cifar100" (LABEL_i).
std::vector<std::string> ImageLabelNames(const std::string& dataset);
// The processor of a model trained here on dataset at image_size: the set's own mean and std per
// channel (of the model's channels), resize only when image_size differs from the set's.
data::ImageProcessor TrainingProcessor(const data::ImageSet& set, int64_t image_size, int64_t channels);
// "fashion-mnist" | "cifar10" | "cifar100", else a one-line error naming the flag.
Status CheckImageDataset(const std::string& dataset);

}  // namespace t81::cli
