#include "t81/data/images.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "t81/base/check.h"
#include "t81/base/file.h"
#include "t81/data/idx.h"
#include "t81/io/json_fields.h"

namespace t81::data {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr int64_t kCifarSide = 32, kCifarPixels = 3 * kCifarSide * kCifarSide;
// CIFAR-100 train.bin is 153.7 MB; anything past this is not a CIFAR file.
constexpr uint64_t kMaxCifarFileBytes = uint64_t(512) << 20;

// ---- CIFAR -------------------------------------------------------------------------------------

// Appends the records of one CIFAR binary file (size bytes at b) to set, whose name, classes and
// shape the caller has set. CIFAR-100 keeps the fine label; its coarse label must be < 20 too.
Status AppendCifar(const uint8_t* b, size_t size, const std::string& name, ImageSet* set) {
  const int64_t label_bytes = set->classes == 100 ? 2 : 1, record = label_bytes + kCifarPixels;
  if (size == 0) return Error(name + ": empty file");
  if (size % uint64_t(record) != 0)
    return Error(name + ": " + std::to_string(size) + " bytes is not a whole number of " + std::to_string(record) +
                 "-byte " + set->name + " records");
  const int64_t n = int64_t(size / uint64_t(record));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = b + i * record;
    if (label_bytes == 2 && r[0] >= 20)
      return Error(name + ": coarse label " + std::to_string(r[0]) + " of record " + std::to_string(i) +
                   " is outside 0..19");
    const int label = r[label_bytes - 1];
    if (label >= set->classes)
      return Error(name + ": label " + std::to_string(label) + " of record " + std::to_string(i) + " is outside 0.." +
                   std::to_string(set->classes - 1));
  }
  set->labels.reserve(set->labels.size() + size_t(n));
  set->pixels.reserve(set->pixels.size() + size_t(n * kCifarPixels));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = b + i * record;
    set->labels.push_back(r[label_bytes - 1]);
    set->pixels.insert(set->pixels.end(), r + label_bytes, r + record);
  }
  set->n += n;
  return OkStatus();
}

ImageSet EmptyCifar(int classes) {
  ImageSet set;
  set.name = classes == 100 ? "cifar100" : "cifar10";
  set.channels = 3;
  set.height = set.width = kCifarSide;
  set.classes = classes;
  return set;
}

// dir, or its CIFAR subfolder when dir lacks the first file and the subfolder exists.
std::string CifarFolder(const std::string& dir, const std::string& sub, const std::string& first) {
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / first, ec) && fs::is_directory(fs::path(dir) / sub, ec))
    return (fs::path(dir) / sub).string();
  return dir;
}

Result<ImageSet> LoadCifar(int classes, const std::string& dir, const std::string& split) {
  const bool ten = classes == 10;
  const std::string dataset = ten ? "cifar10" : "cifar100";
  if (dir.empty())
    return Error(dataset + ": no data folder given (CIFAR has no default; pass the folder of the binary version)");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Error(dataset + ": data folder '" + dir + "' not found");
  std::vector<std::string> files;
  if (split == "train") {
    if (ten) {
      for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
    } else {
      files.push_back("train.bin");
    }
  } else {
    files.push_back(ten ? "test_batch.bin" : "test.bin");
  }
  const std::string folder = CifarFolder(dir, ten ? "cifar-10-batches-bin" : "cifar-100-binary", files[0]);
  ImageSet set = EmptyCifar(classes);
  // Reserved once from the file sizes, so the pixels are never reallocated (150 MB for a train split).
  uint64_t records = 0;
  for (std::string& f : files) {
    f = (fs::path(folder) / f).string();
    if (!fs::is_regular_file(f, ec)) return Error(f + ": file not found");
    records += fs::file_size(f, ec) / uint64_t(kCifarPixels + (ten ? 1 : 2));
  }
  if (records * uint64_t(kCifarPixels) <= kMaxCifarFileBytes * files.size()) {
    set.pixels.reserve(size_t(records * kCifarPixels));
    set.labels.reserve(size_t(records));
  }
  for (const std::string& f : files) {
    T81_ASSIGN_OR_RETURN(std::string bytes, base::ReadFile(f, kMaxCifarFileBytes));
    T81_RETURN_IF_ERROR(AppendCifar(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), f, &set));
  }
  return set;
}

Result<ImageSet> LoadFashionImages(const std::string& dir, const std::string& split) {
  T81_ASSIGN_OR_RETURN(FashionRaw raw, ReadFashionMnistRaw(dir.empty() ? kFashionMnistDir : dir,
                                                           split == "train" ? "train" : "t10k"));
  ImageSet set;
  set.name = "fashion-mnist";
  set.n = raw.images.n;
  set.channels = 1;
  set.height = raw.images.rows;
  set.width = raw.images.cols;
  set.classes = 10;
  set.pixels = std::move(raw.images.pixels);
  set.labels = std::move(raw.labels);
  return set;
}

// ---- PIL's 8-bit bilinear resample -------------------------------------------------------------

// Pillow's fixed-point precision for 8-bit resampling (libImaging/Resample.c: 32 - 8 - 2 bits).
constexpr int kPrecisionBits = 22;

// One axis of the resample: output i reads `count[i]` inputs from `first[i]` with weights
// w[i * ksize ..], fixed point with kPrecisionBits fraction bits.
struct AxisTaps {
  int64_t ksize = 0;
  std::vector<int32_t> first, count, w;
};

// PIL's coefficients for in -> out samples with the triangle filter (support 1): the support is
// widened by the down-sampling factor, the center of output i is (i + 0.5) * in / out, the taps
// of input j weigh tri((j - center + 0.5) / filterscale), normalized to sum 1 and rounded half
// away from zero to fixed point. Same double arithmetic, in the same order, as Pillow.
AxisTaps BilinearTaps(int64_t in, int64_t out) {
  const double scale = double(in) / double(out);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;
  AxisTaps t;
  t.ksize = int64_t(std::ceil(support)) * 2 + 1;
  t.first.resize(size_t(out));
  t.count.resize(size_t(out));
  t.w.assign(size_t(out * t.ksize), 0);
  std::vector<double> k(size_t(t.ksize));
  const double ss = 1.0 / filterscale;
  for (int64_t i = 0; i < out; ++i) {
    const double center = (double(i) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(0, int64_t(center - support + 0.5));
    const int64_t hi = std::min<int64_t>(in, int64_t(center + support + 0.5));
    const int64_t n = hi - lo;
    double sum = 0.0;
    for (int64_t j = 0; j < n; ++j) {
      double x = (double(j + lo) - center + 0.5) * ss;
      if (x < 0.0) x = -x;
      k[size_t(j)] = x < 1.0 ? 1.0 - x : 0.0;
      sum += k[size_t(j)];
    }
    for (int64_t j = 0; j < n; ++j) {
      double v = k[size_t(j)];
      if (sum != 0.0) v /= sum;
      const double f = v * double(1 << kPrecisionBits);
      t.w[size_t(i * t.ksize + j)] = int32_t(v < 0 ? -0.5 + f : 0.5 + f);
    }
    t.first[size_t(i)] = int32_t(lo);
    t.count[size_t(i)] = int32_t(n);
  }
  return t;
}

inline uint8_t Clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Resizes planes of (sh, sw) to (dh, dw) with coefficients computed once. Each pass runs only
// when its size changes, as in Pillow (with equal sizes the pass would be the identity anyway).
class PlaneResizer {
 public:
  PlaneResizer(int64_t sh, int64_t sw, int64_t dh, int64_t dw) : sh_(sh), sw_(sw), dh_(dh), dw_(dw) {
    T81_CHECK(sh > 0 && sw > 0 && dh > 0 && dw > 0, "resize of an empty plane");
    T81_CHECK(sh < (int64_t(1) << 30) && sw < (int64_t(1) << 30) && dh < (int64_t(1) << 30) && dw < (int64_t(1) << 30),
              "resize sizes past 2^30");
    if (sw != dw) h_ = BilinearTaps(sw, dw);
    if (sh != dh) v_ = BilinearTaps(sh, dh);
    if (sw != dw && sh != dh) tmp_.resize(size_t(sh * dw));
    acc_.resize(size_t(dw));
  }

  void Run(uint8_t* dst, const uint8_t* src) {
    if (sw_ == dw_ && sh_ == dh_) {
      std::copy(src, src + sh_ * sw_, dst);
      return;
    }
    const uint8_t* mid = src;  // (sh, dw) after the horizontal pass
    if (sw_ != dw_) {
      uint8_t* out = sh_ == dh_ ? dst : tmp_.data();
      for (int64_t y = 0; y < sh_; ++y) {
        const uint8_t* row = src + y * sw_;
        for (int64_t x = 0; x < dw_; ++x) {
          const int32_t* w = h_.w.data() + x * h_.ksize;
          const uint8_t* p = row + h_.first[size_t(x)];
          int32_t acc = 1 << (kPrecisionBits - 1);
          for (int32_t j = 0; j < h_.count[size_t(x)]; ++j) acc += int32_t(p[j]) * w[j];
          out[y * dw_ + x] = Clip8(acc);
        }
      }
      if (sh_ == dh_) return;
      mid = out;
    }
    for (int64_t y = 0; y < dh_; ++y) {
      const int32_t* w = v_.w.data() + y * v_.ksize;
      std::fill(acc_.begin(), acc_.end(), 1 << (kPrecisionBits - 1));
      for (int32_t j = 0; j < v_.count[size_t(y)]; ++j) {
        const uint8_t* row = mid + (v_.first[size_t(y)] + j) * dw_;
        const int32_t wj = w[j];
        for (int64_t x = 0; x < dw_; ++x) acc_[size_t(x)] += int32_t(row[x]) * wj;
      }
      for (int64_t x = 0; x < dw_; ++x) dst[y * dw_ + x] = Clip8(acc_[size_t(x)]);
    }
  }

 private:
  int64_t sh_, sw_, dh_, dw_;
  AxisTaps h_, v_;
  std::vector<uint8_t> tmp_;
  std::vector<int32_t> acc_;
};

// ---- preprocessor_config.json ------------------------------------------------------------------

constexpr int64_t kMaxImageSide = 4096;  // t81's limit on the processor's output size

Result<int64_t> Side(const Json& v, const std::string& path, const std::string& field) {
  if (!v.is_number_integer() || v.get<int64_t>() <= 0)
    return Error(path + ": field '" + field + "' must be a positive integer");
  if (v.get<int64_t>() > kMaxImageSide)
    return Error(path + ": field '" + field + "' is " + std::to_string(v.get<int64_t>()) +
                 ", more than t81's limit of " + std::to_string(kMaxImageSide));
  return v.get<int64_t>();
}

// image_mean / image_std: a number (every channel) or a list of one number per channel, as
// transformers' normalize accepts them; stored as float32, as it casts them.
Result<std::vector<float>> ChannelValues(const io::JsonFields& f, const Json& j, const char* key, int64_t channels,
                                         bool positive) {
  const std::string where = f.path() + ": field '" + key + "'";
  if (!f.Has(key)) return std::vector<float>(size_t(channels), 0.5f);
  const Json& v = j[key];
  std::vector<double> d;
  if (v.is_number()) {
    d.assign(size_t(channels), v.get<double>());
  } else if (v.is_array()) {
    if (int64_t(v.size()) != channels)
      return Error(where + " has " + std::to_string(v.size()) + " entries; the model has " + std::to_string(channels) +
                   " channel(s)");
    for (const Json& e : v) {
      if (!e.is_number()) return Error(where + " must hold only numbers");
      d.push_back(e.get<double>());
    }
  } else {
    return Error(where + " must be a number or a list of numbers");
  }
  std::vector<float> out;
  for (double x : d) {
    const float fx = float(x);
    if (!std::isfinite(fx)) return Error(where + " holds a value outside float range");
    if (positive && !(fx > 0.0f)) return Error(where + " must hold positive values");
    out.push_back(fx);
  }
  return out;
}

// The shortest decimal that reads back as x in float32, as a JSON number.
Json FloatJson(float x) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), x);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

Json ChannelJson(const std::vector<float>& v) {
  if (v.size() == 1) return FloatJson(v[0]);
  Json a = Json::array();
  for (float x : v) a.push_back(FloatJson(x));
  return a;
}

}  // namespace

Result<ImageSet> ParseCifar(const std::vector<uint8_t>& bytes, const std::string& name, int classes) {
  if (classes != 10 && classes != 100)
    return Error(name + ": CIFAR has 10 or 100 classes, not " + std::to_string(classes));
  ImageSet set = EmptyCifar(classes);
  T81_RETURN_IF_ERROR(AppendCifar(bytes.data(), bytes.size(), name, &set));
  return set;
}

Result<ImageSet> LoadImageSet(const std::string& dataset, const std::string& dir, const std::string& split) {
  if (split != "train" && split != "test")
    return Error("image set split '" + split + "' is not 'train' or 'test'");
  if (dataset == "fashion-mnist") return LoadFashionImages(dir, split);
  if (dataset == "cifar10") return LoadCifar(10, dir, split);
  if (dataset == "cifar100") return LoadCifar(100, dir, split);
  return Error("image set '" + dataset + "' is not one of fashion-mnist, cifar10, cifar100");
}

Result<ImageProcessor> LoadImageProcessor(const std::string& model_dir, int64_t image_size, int64_t channels) {
  T81_CHECK(image_size > 0 && channels > 0, "LoadImageProcessor: image_size and channels must be positive");
  ImageProcessor p;
  const std::string path = (fs::path(model_dir) / "preprocessor_config.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    p.height = p.width = image_size;
    p.mean = p.std = std::vector<float>(size_t(channels), 0.5f);
    return p;
  }
  T81_ASSIGN_OR_RETURN(Json j, io::ReadJsonObject(path));
  const io::JsonFields f(j, path);
  for (const char* key : {"image_processor_type", "feature_extractor_type"}) {
    T81_ASSIGN_OR_RETURN(std::string type, f.String(key, ""));
    if (!type.empty() && type != "ViTImageProcessor" && type != "ViTImageProcessorFast" &&
        type != "ViTFeatureExtractor")
      return Error(path + ": field '" + key + "' is '" + type + "'; t81 implements only ViTImageProcessor");
  }
  if (f.Has("resample") && !(j["resample"].is_number_integer() && j["resample"].get<int64_t>() == 2))
    return Error(path + ": field 'resample' must be 2 (bilinear), the only resampling t81 implements");
  T81_ASSIGN_OR_RETURN(p.do_resize, f.Bool("do_resize", true));
  T81_ASSIGN_OR_RETURN(p.do_rescale, f.Bool("do_rescale", true));
  T81_ASSIGN_OR_RETURN(p.do_normalize, f.Bool("do_normalize", true));
  // size: {"height", "width"} or a bare int (square), as ViTImageProcessor reads it; its default
  // when absent is 224 x 224. {"shortest_edge"} is refused, as ViTImageProcessor refuses it.
  if (f.Has("size")) {
    const Json& s = j["size"];
    if (s.is_object()) {
      if (!s.contains("height") || !s.contains("width"))
        return Error(path + ": field 'size' must have 'height' and 'width' (ViTImageProcessor resizes to both)");
      T81_ASSIGN_OR_RETURN(p.height, Side(s["height"], path, "size.height"));
      T81_ASSIGN_OR_RETURN(p.width, Side(s["width"], path, "size.width"));
    } else {
      T81_ASSIGN_OR_RETURN(p.height, Side(s, path, "size"));
      p.width = p.height;
    }
  }
  T81_ASSIGN_OR_RETURN(p.rescale_factor, f.Number("rescale_factor", 1.0 / 255.0));
  if (!(p.rescale_factor > 0.0) || !std::isfinite(p.rescale_factor))
    return Error(path + ": field 'rescale_factor' must be a positive number");
  T81_ASSIGN_OR_RETURN(p.mean, ChannelValues(f, j, "image_mean", channels, false));
  T81_ASSIGN_OR_RETURN(p.std, ChannelValues(f, j, "image_std", channels, true));
  return p;
}

std::string ImageProcessorJson(const ImageProcessor& p) {
  Json j;
  j["image_processor_type"] = "ViTImageProcessor";
  j["do_resize"] = p.do_resize;
  j["size"] = {{"height", p.height}, {"width", p.width}};
  j["resample"] = 2;
  j["do_rescale"] = p.do_rescale;
  j["rescale_factor"] = p.rescale_factor;
  j["do_normalize"] = p.do_normalize;
  j["image_mean"] = ChannelJson(p.mean);
  j["image_std"] = ChannelJson(p.std);
  return j.dump(2) + "\n";
}

Status Preprocess(float* out, const ImageSet& set, const int64_t* idx, int64_t count, const ImageProcessor& p,
                  int64_t channels) {
  T81_CHECK(int64_t(set.pixels.size()) == set.n * set.image_bytes(), "ImageSet pixels do not match its shape");
  T81_CHECK(count >= 0, "Preprocess: negative count");
  if (channels <= 0) return Error("Preprocess: the model has " + std::to_string(channels) + " channels");
  if (set.channels != channels && set.channels != 1)
    return Error(set.name + ": images have " + std::to_string(set.channels) + " channels; the model takes " +
                 std::to_string(channels));
  const auto per_channel = [&](const std::vector<float>& v) {
    return v.size() == 1 || int64_t(v.size()) == channels;
  };
  if (p.do_normalize && (!per_channel(p.mean) || !per_channel(p.std)))
    return Error("image processor: image_mean / image_std need 1 or " + std::to_string(channels) + " entries, not " +
                 std::to_string(p.mean.size()) + " / " + std::to_string(p.std.size()));
  if (p.height <= 0 || p.width <= 0 || p.height > kMaxImageSide || p.width > kMaxImageSide)
    return Error("image processor: size " + std::to_string(p.height) + " x " + std::to_string(p.width) +
                 " is outside 1.." + std::to_string(kMaxImageSide));
  if (!p.do_resize && (set.height != p.height || set.width != p.width))
    return Error(set.name + ": images are " + std::to_string(set.height) + " x " + std::to_string(set.width) +
                 " and the processor does not resize them to " + std::to_string(p.height) + " x " +
                 std::to_string(p.width));
  for (int64_t i = 0; i < count; ++i)
    if (idx[i] < 0 || idx[i] >= set.n)
      return Error(set.name + ": image index " + std::to_string(idx[i]) + " outside 0.." + std::to_string(set.n - 1));
  // The 8-bit value -> float map of each channel, computed as transformers does: rescale in
  // float64 then cast to float32; normalize (x - mean) / std in float32.
  std::vector<std::array<float, 256>> lut(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c)
    for (int v = 0; v < 256; ++v) {
      float x = p.do_rescale ? float(double(v) * p.rescale_factor) : float(v);
      if (p.do_normalize) {
        const size_t k = p.mean.size() == 1 ? 0 : size_t(c), s = p.std.size() == 1 ? 0 : size_t(c);
        x = (x - p.mean[k]) / p.std[s];
      }
      lut[size_t(c)][size_t(v)] = x;
    }
  const int64_t plane = set.height * set.width, oplane = p.height * p.width;
  PlaneResizer resize(set.height, set.width, p.height, p.width);
  std::vector<uint8_t> resized(static_cast<size_t>(oplane));
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t* img = set.pixels.data() + idx[i] * set.image_bytes();
    for (int64_t c = 0; c < channels; ++c) {
      // A grey image is resized once and repeated.
      if (set.channels != 1 || c == 0) {
        if (p.do_resize) resize.Run(resized.data(), img + (set.channels == 1 ? 0 : c) * plane);
        else std::copy(img + c * plane, img + (c + 1) * plane, resized.data());
      }
      float* o = out + (i * channels + c) * oplane;
      const float* m = lut[size_t(c)].data();
      for (int64_t k = 0; k < oplane; ++k) o[k] = m[resized[size_t(k)]];
    }
  }
  return OkStatus();
}

void ResizeBilinearU8(uint8_t* dst, int64_t dh, int64_t dw, const uint8_t* src, int64_t sh, int64_t sw) {
  PlaneResizer(sh, sw, dh, dw).Run(dst, src);
}

}  // namespace t81::data
