// Image sets and the ViT image processor: CIFAR-10 / CIFAR-100 files written in the binary
// layout (both kinds, subfolder lookup, every bad input), Fashion-MNIST through LoadImageSet,
// preprocessor_config.json (round trip, defaults, bad fields), and the resize and whole
// preprocessing checked bit for bit against PIL and a numpy restatement of transformers' steps,
// run with /usr/bin/python3 (python3-pil, python3-numpy: the test fails, never skips, without them).
#include "t81/data/images.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../test_util.h"
#include "t81/data/idx.h"

namespace t81::data {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

void WriteBytes(const fs::path& p, const Bytes& b) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  ASSERT_TRUE(out.good()) << p;
}

Bytes ReadBytes(const fs::path& p) {
  const std::string s = testing::ReadText(p);
  return Bytes(s.begin(), s.end());
}

// n CIFAR records: labels label0, label0 + 1, ... (mod classes); pixel k of record i = (i * 7 + k) % 251.
// CIFAR-100 records carry coarse label (fine / 5) first.
Bytes CifarRecords(int classes, int n, int label0 = 0, int seed = 0) {
  Bytes b;
  for (int i = 0; i < n; ++i) {
    const int fine = (label0 + i) % classes;
    if (classes == 100) b.push_back(uint8_t(fine / 5));
    b.push_back(uint8_t(fine));
    for (int k = 0; k < 3072; ++k) b.push_back(uint8_t((i * 7 + k + seed) % 251));
  }
  return b;
}

// ---- CIFAR ---------------------------------------------------------------------------------------

void ExpectShape(const ImageSet& s, const std::string& name, int64_t n, int64_t channels, int64_t side,
                 int64_t classes) {
  EXPECT_EQ(s.name, name);
  EXPECT_EQ(s.n, n);
  EXPECT_EQ(s.channels, channels);
  EXPECT_EQ(s.height, side);
  EXPECT_EQ(s.width, side);
  EXPECT_EQ(s.classes, classes);
  EXPECT_EQ(int64_t(s.pixels.size()), n * channels * side * side);
  EXPECT_EQ(int64_t(s.labels.size()), n);
}

TEST(Cifar, ParsesCifar10Records) {
  const Result<ImageSet> r = ParseCifar(CifarRecords(10, 3, 8), "b.bin", 10);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ExpectShape(r.value(), "cifar10", 3, 3, 32, 10);
  EXPECT_EQ(r->labels, (std::vector<int32_t>{8, 9, 0}));
  ASSERT_EQ(r->pixels.size(), 3u * 3072);
  for (int i = 0; i < 3; ++i)
    for (int k : {0, 1023, 1024, 2048, 3071}) EXPECT_EQ(r->pixels[size_t(i * 3072 + k)], (i * 7 + k) % 251);
}

TEST(ImageSet, KeepFirstKeepsTheLeadingImages) {
  ImageSet s = ParseCifar(CifarRecords(10, 5, 8), "b.bin", 10).value();
  const ImageSet all = s;
  s.KeepFirst(0);  // 0: all
  EXPECT_EQ(s.n, 5);
  s.KeepFirst(9);  // more than there are: all
  EXPECT_EQ(s.n, 5);
  s.KeepFirst(2);
  ASSERT_EQ(s.n, 2);
  EXPECT_EQ(s.labels, std::vector<int32_t>(all.labels.begin(), all.labels.begin() + 2));
  EXPECT_EQ(s.pixels, std::vector<uint8_t>(all.pixels.begin(), all.pixels.begin() + 2 * 3072));
}

TEST(Cifar, Cifar100KeepsTheFineLabel) {
  const Result<ImageSet> r = ParseCifar(CifarRecords(100, 4, 97), "train.bin", 100);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ExpectShape(r.value(), "cifar100", 4, 3, 32, 100);
  EXPECT_EQ(r->labels, (std::vector<int32_t>{97, 98, 99, 0}));
  EXPECT_EQ(r->pixels[3072 + 5], (7 + 5) % 251);
}

void ExpectError(const Status& s, const std::vector<std::string>& parts) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  for (const std::string& p : parts) EXPECT_NE(s.message().find(p), std::string::npos) << s.message() << " / " << p;
}

TEST(Cifar, RefusesBadBytes) {
  ExpectError(ParseCifar({}, "x.bin", 10).status(), {"x.bin", "empty"});
  Bytes b = CifarRecords(10, 2);
  b.pop_back();
  ExpectError(ParseCifar(b, "x.bin", 10).status(), {"x.bin", "6145 bytes", "3073-byte"});
  // A CIFAR-10 file read as CIFAR-100 is not a whole number of records either.
  ExpectError(ParseCifar(CifarRecords(10, 2), "x.bin", 100).status(), {"3074-byte"});
  b = CifarRecords(10, 3);
  b[2 * 3073] = 10;
  ExpectError(ParseCifar(b, "x.bin", 10).status(), {"x.bin", "label 10 of record 2", "0..9"});
  b = CifarRecords(100, 2);
  b[3074 + 1] = 100;
  ExpectError(ParseCifar(b, "y.bin", 100).status(), {"y.bin", "label 100 of record 1", "0..99"});
  b = CifarRecords(100, 2);
  b[0] = 20;
  ExpectError(ParseCifar(b, "y.bin", 100).status(), {"y.bin", "coarse label 20 of record 0"});
  ExpectError(ParseCifar(CifarRecords(10, 1), "z.bin", 7).status(), {"z.bin", "10 or 100"});
}

TEST(Cifar, LoadsCifar10SplitsInFileOrder) {
  testing::TempDir dir("t81_images");
  for (int i = 1; i <= 5; ++i)
    WriteBytes(dir.path() / ("data_batch_" + std::to_string(i) + ".bin"), CifarRecords(10, i, i, i));
  WriteBytes(dir.path() / "test_batch.bin", CifarRecords(10, 2, 4));
  const Result<ImageSet> train = LoadImageSet("cifar10", dir.path().string(), "train");
  ASSERT_TRUE(train.ok()) << train.status().message();
  EXPECT_EQ(train->n, 15);
  ASSERT_EQ(train->pixels.size(), 15u * 3072);
  // Record 0 of data_batch_3 is image 1 + 2 = 3 of the split.
  EXPECT_EQ(train->labels[3], 3);
  EXPECT_EQ(train->pixels[3 * 3072 + 10], (10 + 3) % 251);
  EXPECT_EQ(train->labels[14], (5 + 4) % 10);
  const Result<ImageSet> test = LoadImageSet("cifar10", dir.path().string(), "test");
  ASSERT_TRUE(test.ok()) << test.status().message();
  EXPECT_EQ(test->n, 2);
  EXPECT_EQ(test->labels, (std::vector<int32_t>{4, 5}));
}

TEST(Cifar, FindsTheSubfolders) {
  testing::TempDir dir("t81_images");
  WriteBytes(dir.path() / "cifar-100-binary" / "train.bin", CifarRecords(100, 3, 50));
  WriteBytes(dir.path() / "cifar-100-binary" / "test.bin", CifarRecords(100, 1, 99));
  WriteBytes(dir.path() / "cifar-10-batches-bin" / "test_batch.bin", CifarRecords(10, 2, 1));
  const Result<ImageSet> train = LoadImageSet("cifar100", dir.path().string(), "train");
  ASSERT_TRUE(train.ok()) << train.status().message();
  EXPECT_EQ(train->labels, (std::vector<int32_t>{50, 51, 52}));
  const Result<ImageSet> test = LoadImageSet("cifar100", (dir.path() / "cifar-100-binary").string(), "test");
  ASSERT_TRUE(test.ok()) << test.status().message();
  EXPECT_EQ(test->labels, (std::vector<int32_t>{99}));
  const Result<ImageSet> c10 = LoadImageSet("cifar10", dir.path().string(), "test");
  ASSERT_TRUE(c10.ok()) << c10.status().message();
  EXPECT_EQ(c10->labels, (std::vector<int32_t>{1, 2}));
}

TEST(Cifar, LoadErrorsNameTheFile) {
  testing::TempDir dir("t81_images");
  const std::string d = dir.path().string();
  for (int i : {1, 2, 4, 5}) WriteBytes(dir.path() / ("data_batch_" + std::to_string(i) + ".bin"), CifarRecords(10, 1));
  ExpectError(LoadImageSet("cifar10", d, "train").status(), {"data_batch_3.bin", "not found"});
  WriteBytes(dir.path() / "data_batch_3.bin", {});
  ExpectError(LoadImageSet("cifar10", d, "train").status(), {"data_batch_3.bin", "empty"});
  Bytes bad = CifarRecords(10, 2);
  bad.resize(bad.size() + 5);
  WriteBytes(dir.path() / "data_batch_3.bin", bad);
  ExpectError(LoadImageSet("cifar10", d, "train").status(), {"data_batch_3.bin", "whole number"});
  bad = CifarRecords(10, 2);
  bad[3073] = 200;
  WriteBytes(dir.path() / "data_batch_3.bin", bad);
  ExpectError(LoadImageSet("cifar10", d, "train").status(), {"data_batch_3.bin", "label 200 of record 1"});
  ExpectError(LoadImageSet("cifar10", d, "test").status(), {"test_batch.bin", "not found"});
  ExpectError(LoadImageSet("cifar100", d, "train").status(), {"train.bin", "not found"});
  ExpectError(LoadImageSet("cifar10", "", "train").status(), {"cifar10", "no data folder"});
  ExpectError(LoadImageSet("cifar10", d + "/nope", "train").status(), {"nope", "not found"});
  ExpectError(LoadImageSet("cifar10", d, "valid").status(), {"valid"});
  ExpectError(LoadImageSet("mnist", d, "train").status(), {"mnist", "cifar10"});
}

// ---- Fashion-MNIST -------------------------------------------------------------------------------

void WriteIdxGz(const fs::path& p, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b;
  const uint32_t magic = 0x800u | uint32_t(dims.size());
  for (uint32_t v : std::vector<uint32_t>{magic}) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
  }
  for (uint32_t v : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
  b.insert(b.end(), payload.begin(), payload.end());
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, b.data(), unsigned(b.size())), int(b.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

TEST(FashionImages, KeepsRawPixels) {
  testing::TempDir dir("t81_images");
  Bytes px(2 * 784);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 13);
  WriteIdxGz(dir.path() / "t10k-images-idx3-ubyte.gz", {2, 28, 28}, px);
  WriteIdxGz(dir.path() / "t10k-labels-idx1-ubyte.gz", {2}, {9, 0});
  const Result<ImageSet> r = LoadImageSet("fashion-mnist", dir.path().string(), "test");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ExpectShape(r.value(), "fashion-mnist", 2, 1, 28, 10);
  EXPECT_EQ(r->pixels, px);
  EXPECT_EQ(r->labels, (std::vector<int32_t>{9, 0}));
  WriteIdxGz(dir.path() / "t10k-labels-idx1-ubyte.gz", {2}, {9, 10});
  ExpectError(LoadImageSet("fashion-mnist", dir.path().string(), "test").status(), {"t10k-labels", "label 10"});
  ExpectError(LoadImageSet("fashion-mnist", dir.path().string(), "train").status(), {"train-images", "not found"});
}

TEST(FashionImages, DebianPackageWhenInstalled) {
  if (!fs::is_directory(kFashionMnistDir)) GTEST_SKIP() << kFashionMnistDir << " not installed";
  const Result<ImageSet> r = LoadImageSet("fashion-mnist", "", "test");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->n, 10000);
  EXPECT_EQ(r->pixels.size(), 10000u * 784);
}

// ---- preprocessor_config.json --------------------------------------------------------------------

TEST(ImageProcessorConfig, DefaultsWithoutTheFile) {
  testing::TempDir dir("t81_images");
  const Result<ImageProcessor> p = LoadImageProcessor(dir.path().string(), 32, 1);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->height, 32);
  EXPECT_EQ(p->width, 32);
  EXPECT_TRUE(p->do_resize && p->do_rescale && p->do_normalize);
  EXPECT_EQ(p->mean, std::vector<float>{0.5f});
  EXPECT_EQ(p->std, std::vector<float>{0.5f});
}

TEST(ImageProcessorConfig, RoundTrips) {
  testing::TempDir dir("t81_images");
  ImageProcessor p;
  p.height = 40;
  p.width = 56;
  p.do_normalize = false;
  p.rescale_factor = 1.0 / 127.0;
  p.mean = {0.485f, 0.456f, 0.406f};
  p.std = {0.229f, 0.224f, 0.225f};
  std::ofstream(dir.path() / "preprocessor_config.json") << ImageProcessorJson(p);
  const std::string text = testing::ReadText(dir.path() / "preprocessor_config.json");
  EXPECT_NE(text.find("\"ViTImageProcessor\""), std::string::npos) << text;
  EXPECT_NE(text.find("0.485,"), std::string::npos) << text;  // the float's shortest decimal
  const Result<ImageProcessor> q = LoadImageProcessor(dir.path().string(), 224, 3);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->height, 40);
  EXPECT_EQ(q->width, 56);
  EXPECT_TRUE(q->do_resize);
  EXPECT_TRUE(q->do_rescale);
  EXPECT_FALSE(q->do_normalize);
  EXPECT_EQ(q->rescale_factor, p.rescale_factor);
  EXPECT_EQ(q->mean, p.mean);
  EXPECT_EQ(q->std, p.std);
  // One value for all channels is written as a bare number and read back for each channel.
  p.mean = {0.25f};
  p.std = {0.75f};
  std::ofstream(dir.path() / "preprocessor_config.json") << ImageProcessorJson(p);
  const Result<ImageProcessor> r = LoadImageProcessor(dir.path().string(), 224, 3);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->mean, std::vector<float>(3, 0.25f));
  EXPECT_EQ(r->std, std::vector<float>(3, 0.75f));
}

Result<ImageProcessor> LoadText(const testing::TempDir& dir, const std::string& json, int64_t channels = 3) {
  const fs::path p = dir.path() / "preprocessor_config.json";
  std::ofstream(p) << json;
  return LoadImageProcessor(dir.path().string(), 224, channels);
}

TEST(ImageProcessorConfig, ReadsTheHubForms) {
  testing::TempDir dir("t81_images");
  // google/vit-base-patch16-224's file: a bare int size, the old feature-extractor type.
  Result<ImageProcessor> p = LoadText(dir, R"({"do_normalize": true, "do_resize": true,
    "feature_extractor_type": "ViTFeatureExtractor", "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
    "resample": 2, "size": 384})");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->height, 384);
  EXPECT_EQ(p->width, 384);
  EXPECT_EQ(p->rescale_factor, 1.0 / 255.0);
  p = LoadText(dir, R"({"image_processor_type": "ViTImageProcessorFast", "size": {"height": 30, "width": 20}})");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->height, 30);
  EXPECT_EQ(p->width, 20);
  p = LoadText(dir, "{}");  // ViTImageProcessor's own defaults: 224 x 224
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->height, 224);
  EXPECT_EQ(p->mean, std::vector<float>(3, 0.5f));
}

TEST(ImageProcessorConfig, RefusesBadFields) {
  testing::TempDir dir("t81_images");
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"[1]", {"not a JSON object"}},
      {"{\"do_resize\": \"yes\"}", {"'do_resize'", "true or false"}},
      {"{\"do_rescale\": 1}", {"'do_rescale'"}},
      {"{\"size\": {\"shortest_edge\": 224}}", {"'size'", "'height' and 'width'"}},
      {"{\"size\": {\"height\": 0, \"width\": 3}}", {"'size.height'", "positive integer"}},
      {"{\"size\": {\"height\": 32, \"width\": 2.5}}", {"'size.width'"}},
      {"{\"size\": -4}", {"'size'", "positive integer"}},
      {"{\"size\": \"224\"}", {"'size'"}},
      {"{\"size\": 5000}", {"'size'", "limit of 4096"}},
      {"{\"rescale_factor\": \"x\"}", {"'rescale_factor'", "number"}},
      {"{\"rescale_factor\": 0}", {"'rescale_factor'", "positive"}},
      {"{\"image_mean\": [0.5, 0.5]}", {"'image_mean'", "2 entries", "3 channel"}},
      {"{\"image_mean\": [0.5, \"a\", 0.5]}", {"'image_mean'", "only numbers"}},
      {"{\"image_mean\": {\"r\": 1}}", {"'image_mean'", "list of numbers"}},
      {"{\"image_mean\": [1e300, 0, 0]}", {"'image_mean'", "float range"}},
      {"{\"image_std\": [0.5, 0, 0.5]}", {"'image_std'", "positive"}},
      {"{\"image_std\": -1}", {"'image_std'", "positive"}},
      {"{\"image_std\": [0.5, 1e-50, 0.5]}", {"'image_std'", "positive"}},
      {"{\"resample\": 3}", {"'resample'", "bilinear"}},
      {"{\"image_processor_type\": \"ConvNextImageProcessor\"}", {"'image_processor_type'", "ConvNext"}},
      {"{\"image_processor_type\": 4}", {"'image_processor_type'", "string"}},
      {std::string(100, '[') + std::string(100, ']'), {"nested deeper"}},
  };
  for (const auto& [json, parts] : cases) {
    SCOPED_TRACE(json);
    std::vector<std::string> want = parts;
    want.push_back("preprocessor_config.json");
    ExpectError(LoadText(dir, json).status(), want);
  }
  ExpectError(LoadText(dir, "{\"image_std\": [0.5, 0.5, 0.5]}", 1).status(), {"'image_std'", "1 channel"});
}

// ---- resize and preprocessing vs PIL -------------------------------------------------------------

// Runs /usr/bin/python3 on script with args; its output (stdout + stderr) into *out; true on exit 0.
bool RunPython(const fs::path& dir, const std::string& script, const std::string& args, std::string* out) {
  const fs::path py = dir / "check.py", log = dir / "python.log";
  std::ofstream(py) << script;
  const std::string cmd = "/usr/bin/python3 " + py.string() + " " + args + " >" + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  *out = testing::ReadText(log);
  return rc == 0;
}

Bytes RandomPlane(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(static_cast<size_t>(n));
  for (uint8_t& v : b) v = uint8_t(rng() & 255);
  return b;
}

// PIL's Image.resize((w, h), BILINEAR) of an 8-bit plane, as transformers calls it.
constexpr const char* kPilResize = R"(import sys
from PIL import Image
src, dst, sh, sw, dh, dw = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
im = Image.frombytes("L", (sw, sh), open(src, "rb").read())
open(dst, "wb").write(im.resize((dw, dh), resample=Image.BILINEAR).tobytes())
)";

TEST(ResizeBilinear, MatchesPilBitForBit) {
  ASSERT_TRUE(fs::exists("/usr/bin/python3")) << "the PIL comparison needs /usr/bin/python3 (scripts/setup.sh)";
  testing::TempDir dir("t81_images");
  struct Case { int64_t sh, sw, dh, dw; };
  const std::vector<Case> cases = {{28, 28, 224, 224}, {32, 32, 224, 224}, {28, 20, 37, 53}, {224, 224, 28, 28},
                                   {100, 100, 33, 33}, {100, 37, 33, 90},  {5, 7, 5, 3},      {9, 4, 2, 4},
                                   {1, 1, 3, 2},       {3, 300, 1, 7}};
  uint32_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.sh) + "x" + std::to_string(c.sw) + " -> " + std::to_string(c.dh) + "x" +
                 std::to_string(c.dw));
    const Bytes src = RandomPlane(c.sh * c.sw, seed++);
    WriteBytes(dir.path() / "src.bin", src);
    std::string log;
    ASSERT_TRUE(RunPython(dir.path(), kPilResize,
                          (dir.path() / "src.bin").string() + " " + (dir.path() / "pil.bin").string() + " " +
                              std::to_string(c.sh) + " " + std::to_string(c.sw) + " " + std::to_string(c.dh) + " " +
                              std::to_string(c.dw),
                          &log))
        << "python3 with PIL (python3-pil) failed: " << log;
    const Bytes want = ReadBytes(dir.path() / "pil.bin");
    ASSERT_EQ(want.size(), size_t(c.dh * c.dw));
    Bytes got(size_t(c.dh * c.dw));
    ResizeBilinearU8(got.data(), c.dh, c.dw, src.data(), c.sh, c.sw);
    int diff = 0;
    for (size_t i = 0; i < got.size(); ++i) diff += got[i] != want[i];
    EXPECT_EQ(diff, 0) << "pixels differing from PIL";
  }
}

TEST(ResizeBilinear, KeepsConstantsAndCopiesEqualSizes) {
  const Bytes flat(30 * 20, 77);
  Bytes out(64 * 9);
  ResizeBilinearU8(out.data(), 64, 9, flat.data(), 30, 20);
  for (uint8_t v : out) EXPECT_EQ(v, 77);
  const Bytes src = RandomPlane(6 * 5, 9);
  Bytes same(src.size());
  ResizeBilinearU8(same.data(), 6, 5, src.data(), 6, 5);
  EXPECT_EQ(same, src);
}

// transformers' ViTImageProcessor steps on uint8 images, restated with PIL + numpy: HWC image ->
// PIL resize (w, h) BILINEAR -> float64 * rescale_factor -> float32 -> (x - mean) / std in float32
// -> CHW; a grey set is repeated to the model's channels first.
constexpr const char* kHfSteps = R"(import json, sys
import numpy as np
from PIL import Image
src, cfg_path, dst, n, c, h, w, model_c = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:9])
cfg = json.load(open(cfg_path))
x = np.fromfile(src, dtype=np.uint8).reshape(n, c, h, w)
if c == 1 and model_c > 1:
    x = np.repeat(x, model_c, axis=1)
out = []
for img in x:
    img = img.transpose(1, 2, 0)
    if cfg["do_resize"]:
        pil = Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img)
        img = np.array(pil.resize((cfg["size"]["width"], cfg["size"]["height"]), resample=2))
        if img.ndim == 2:
            img = img[:, :, None]
    if cfg["do_rescale"]:
        img = (img.astype(np.float64) * cfg["rescale_factor"]).astype(np.float32)
    if cfg["do_normalize"]:
        img = img.astype(np.float32)
        m = cfg["image_mean"]; s = cfg["image_std"]
        m = m if isinstance(m, list) else [m] * img.shape[2]
        s = s if isinstance(s, list) else [s] * img.shape[2]
        img = (img - np.array(m, dtype=img.dtype)) / np.array(s, dtype=img.dtype)
    out.append(img.astype(np.float32).transpose(2, 0, 1))
np.stack(out).astype(np.float32).tofile(dst)
)";

void ExpectPreprocessMatchesPython(const ImageSet& set, const ImageProcessor& p, int64_t channels,
                                   const std::vector<int64_t>& idx) {
  testing::TempDir dir("t81_images_pp");
  ImageSet picked = set;  // the python side gets the picked images only
  picked.n = int64_t(idx.size());
  picked.pixels.clear();
  for (int64_t i : idx)
    picked.pixels.insert(picked.pixels.end(), set.pixels.begin() + i * set.image_bytes(),
                         set.pixels.begin() + (i + 1) * set.image_bytes());
  WriteBytes(dir.path() / "x.bin", picked.pixels);
  const std::string cfg = ImageProcessorJson(p);
  WriteBytes(dir.path() / "cfg.json", Bytes(cfg.begin(), cfg.end()));
  std::string log;
  ASSERT_TRUE(RunPython(dir.path(), kHfSteps,
                        (dir.path() / "x.bin").string() + " " + (dir.path() / "cfg.json").string() + " " +
                            (dir.path() / "want.bin").string() + " " + std::to_string(picked.n) + " " +
                            std::to_string(set.channels) + " " + std::to_string(set.height) + " " +
                            std::to_string(set.width) + " " + std::to_string(channels),
                        &log))
      << "python3 with PIL + numpy failed: " << log;
  const Bytes raw = ReadBytes(dir.path() / "want.bin");
  const size_t count = size_t(picked.n * channels * p.height * p.width);
  ASSERT_EQ(raw.size(), count * sizeof(float));
  std::vector<float> want(count);
  std::vector<float> got(count, -999.0f);
  std::memcpy(want.data(), raw.data(), raw.size());
  const Status s = Preprocess(got.data(), set, idx.data(), int64_t(idx.size()), p, channels);
  ASSERT_TRUE(s.ok()) << s.message();
  size_t bad = 0;
  for (size_t i = 0; i < count; ++i)
    if (!(std::fabs(got[i] - want[i]) <= 1e-6f) && bad++ < 5)
      ADD_FAILURE() << "at " << i << ": " << got[i] << " vs " << want[i];
  EXPECT_EQ(bad, 0u);
}

TEST(Preprocess, MatchesTransformersStepsOnCifar) {
  Result<ImageSet> set = ParseCifar(CifarRecords(10, 4, 0, 3), "t.bin", 10);
  ASSERT_TRUE(set.ok());
  const Bytes noise = RandomPlane(int64_t(set->pixels.size()), 5);
  set->pixels = noise;
  ImageProcessor p;
  p.height = 48;
  p.width = 40;
  p.mean = {0.485f, 0.456f, 0.406f};
  p.std = {0.229f, 0.224f, 0.225f};
  ExpectPreprocessMatchesPython(*set, p, 3, {3, 0, 2});
  p.height = p.width = 224;  // the ViT size, down-sampling too
  p.mean = p.std = {0.5f};
  ExpectPreprocessMatchesPython(*set, p, 3, {1});
  p.height = p.width = 17;
  ExpectPreprocessMatchesPython(*set, p, 3, {1, 1});
  p.do_resize = false;
  p.height = p.width = 32;
  p.do_rescale = false;
  ExpectPreprocessMatchesPython(*set, p, 3, {2});
}

TEST(Preprocess, MatchesTransformersStepsOnGrey) {
  ImageSet set;
  set.name = "grey";
  set.n = 3;
  set.channels = 1;
  set.height = set.width = 28;
  set.classes = 10;
  set.pixels = RandomPlane(3 * 784, 11);
  set.labels = {0, 1, 2};
  ImageProcessor p;  // ViT defaults: 224 x 224, mean = std = 0.5
  ExpectPreprocessMatchesPython(set, p, 3, {2, 0});
  p.mean = {0.2860f};
  p.std = {0.3530f};
  p.height = 37;
  p.width = 53;
  ExpectPreprocessMatchesPython(set, p, 1, {1});
  p.do_normalize = false;
  ExpectPreprocessMatchesPython(set, p, 1, {0, 1, 2});
}

TEST(Preprocess, RefusesWhatItCannotDo) {
  Result<ImageSet> set = ParseCifar(CifarRecords(10, 2), "t.bin", 10);
  ASSERT_TRUE(set.ok());
  ImageProcessor p;
  std::vector<float> out(3 * 224 * 224);
  const int64_t ok_idx = 1, bad_idx = 2, neg_idx = -1;
  EXPECT_TRUE(Preprocess(out.data(), *set, &ok_idx, 1, p, 3).ok());
  ExpectError(Preprocess(out.data(), *set, &ok_idx, 1, p, 1), {"3 channels", "takes 1"});
  ExpectError(Preprocess(out.data(), *set, &bad_idx, 1, p, 3), {"index 2"});
  ExpectError(Preprocess(out.data(), *set, &neg_idx, 1, p, 3), {"index -1"});
  p.mean = {0.5f, 0.5f};
  ExpectError(Preprocess(out.data(), *set, &ok_idx, 1, p, 3), {"image_mean"});
  p.mean = {0.5f};
  p.do_resize = false;
  ExpectError(Preprocess(out.data(), *set, &ok_idx, 1, p, 3), {"32 x 32", "224 x 224"});
  p.do_resize = true;
  p.height = 0;
  ExpectError(Preprocess(out.data(), *set, &ok_idx, 1, p, 3), {"size 0 x 224"});
}

}  // namespace
}  // namespace t81::data
