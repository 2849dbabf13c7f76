#include "t81/cli/vit_common.h"

namespace t81::cli {

std::vector<std::string> ImageLabelNames(const std::string& dataset) {
  if (dataset == "fashion-mnist")
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  if (dataset == "cifar10")
    return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return {};
}

data::ImageProcessor TrainingProcessor(const data::ImageSet& set, int64_t image_size, int64_t channels) {
  data::ImageProcessor p;
  p.do_resize = image_size != set.height || image_size != set.width;
  p.height = p.width = image_size;
  // Per-channel statistics of the training images (published figures of each set).
  std::vector<float> mean, std;
  if (set.name == "cifar10") {
    mean = {0.4914f, 0.4822f, 0.4465f};
    std = {0.2470f, 0.2435f, 0.2616f};
  } else if (set.name == "cifar100") {
    mean = {0.5071f, 0.4865f, 0.4409f};
    std = {0.2673f, 0.2564f, 0.2762f};
  } else {
    mean = {0.2860f};
    std = {0.3530f};
  }
  p.mean.clear();
  p.std.clear();
  for (int64_t c = 0; c < channels; ++c) {
    p.mean.push_back(mean[size_t(c) % mean.size()]);
    p.std.push_back(std[size_t(c) % std.size()]);
  }
  return p;
}

Status CheckImageDataset(const std::string& dataset) {
  if (dataset == "fashion-mnist" || dataset == "cifar10" || dataset == "cifar100") return OkStatus();
  return Error("--dataset: '" + dataset + "' is not one of fashion-mnist, cifar10, cifar100");
}

}  // namespace t81::cli
