// IDX / gzip reading: crafted files (valid, bad magic, wrong sizes, truncated and corrupt gzip,
// mismatched label counts, out-of-range labels, missing folder or file) and, when the Debian
// package dataset-fashion-mnist is installed, the real test split.
#include "t81/data/idx.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace t81::data {
namespace {

namespace fs = std::filesystem;

// A fresh, empty folder per test (tests run as separate processes, possibly in parallel),
// removed when the holder goes out of scope.
class FreshDir {
 public:
  FreshDir() {
    const ::testing::TestInfo* ti = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("t81_idx_test_" + std::string(ti->test_suite_name()) + "_" +
                                         ti->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~FreshDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  FreshDir(const FreshDir&) = delete;
  FreshDir& operator=(const FreshDir&) = delete;
  operator const fs::path&() const { return path_; }  // NOLINT: used as a path
  fs::path operator/(const std::string& name) const { return path_ / name; }
  std::string string() const { return path_.string(); }

 private:
  fs::path path_;
};

void PutBe32(std::vector<uint8_t>* b, uint32_t v) {
  b->push_back(uint8_t(v >> 24));
  b->push_back(uint8_t(v >> 16));
  b->push_back(uint8_t(v >> 8));
  b->push_back(uint8_t(v));
}

std::vector<uint8_t> ImagesBytes(uint32_t n, uint32_t rows, uint32_t cols,
                                 const std::vector<uint8_t>& pixels, uint32_t magic = 0x00000803u) {
  std::vector<uint8_t> b;
  PutBe32(&b, magic);
  PutBe32(&b, n);
  PutBe32(&b, rows);
  PutBe32(&b, cols);
  b.insert(b.end(), pixels.begin(), pixels.end());
  return b;
}

std::vector<uint8_t> LabelsBytes(uint32_t n, const std::vector<uint8_t>& labels,
                                 uint32_t magic = 0x00000801u) {
  std::vector<uint8_t> b;
  PutBe32(&b, magic);
  PutBe32(&b, n);
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

void WriteGz(const fs::path& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  }
  ASSERT_EQ(gzclose(f), Z_OK);
}

void WriteRaw(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

std::vector<uint8_t> ReadRaw(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Some kilobytes of compressible but not trivial data, so the deflate stream has a body.
std::vector<uint8_t> Payload(size_t n) {
  std::vector<uint8_t> p(n);
  uint32_t s = 12345;
  for (size_t i = 0; i < n; ++i) {
    s = s * 1103515245u + 12345u;
    p[i] = uint8_t((s >> 16) % 7 + (i % 13));
  }
  return p;
}

bool Contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

const std::vector<uint8_t> kPixels = {0, 1, 2, 3, 10, 20, 30, 40, 255, 128, 7, 0};  // 3 x 2 x 2

TEST(Idx, ParsesValidImagesAndLabels) {
  const auto im = ParseIdxImages(ImagesBytes(3, 2, 2, kPixels), "imgs");
  ASSERT_TRUE(im.ok()) << im.status().message();
  EXPECT_EQ(im->n, 3);
  EXPECT_EQ(im->rows, 2);
  EXPECT_EQ(im->cols, 2);
  EXPECT_EQ(im->pixels, kPixels);

  const auto lb = ParseIdxLabels(LabelsBytes(3, {4, 0, 9}), "labs");
  ASSERT_TRUE(lb.ok()) << lb.status().message();
  EXPECT_EQ(lb->n, 3);
  EXPECT_EQ(lb->labels, (std::vector<uint8_t>{4, 0, 9}));
}

TEST(Idx, BigEndianDims) {
  // 1 image of 1 x 258 (0x0102): a little-endian reader would see 0x02010000 columns.
  std::vector<uint8_t> px(258);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i);
  const auto im = ParseIdxImages(ImagesBytes(1, 1, 0x0102, px), "imgs");
  ASSERT_TRUE(im.ok()) << im.status().message();
  EXPECT_EQ(im->n, 1);
  EXPECT_EQ(im->rows, 1);
  EXPECT_EQ(im->cols, 258);
  EXPECT_EQ(im->pixels, px);
}

TEST(Idx, ReadsGzipFilesRoundTrip) {
  const FreshDir d;
  WriteGz(d / "im.gz", ImagesBytes(3, 2, 2, kPixels));
  WriteGz(d / "lb.gz", LabelsBytes(3, {1, 2, 3}));
  const auto im = ReadIdxImages((d / "im.gz").string());
  ASSERT_TRUE(im.ok()) << im.status().message();
  EXPECT_EQ(im->n, 3);
  EXPECT_EQ(im->pixels, kPixels);
  const auto lb = ReadIdxLabels((d / "lb.gz").string());
  ASSERT_TRUE(lb.ok()) << lb.status().message();
  EXPECT_EQ(lb->labels, (std::vector<uint8_t>{1, 2, 3}));

  // Plain (uncompressed) files are read too.
  WriteRaw(d / "plain", ImagesBytes(3, 2, 2, kPixels));
  const auto pl = ReadIdxImages((d / "plain").string());
  ASSERT_TRUE(pl.ok()) << pl.status().message();
  EXPECT_EQ(pl->pixels, kPixels);

  const std::vector<uint8_t> big = Payload(100000);
  WriteGz(d / "big.gz", big);
  const auto rb = ReadGzip((d / "big.gz").string());
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  EXPECT_EQ(rb.value(), big);
}

TEST(Idx, WrongMagic) {
  const auto a = ParseIdxImages(ImagesBytes(3, 2, 2, kPixels, 0x00000801u), "my-images.idx");
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(Contains(a.status().message(), "my-images.idx")) << a.status().message();
  EXPECT_TRUE(Contains(a.status().message(), "magic")) << a.status().message();

  const auto b = ParseIdxLabels(LabelsBytes(3, {1, 2, 3}, 0x00000803u), "my-labels.idx");
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(Contains(b.status().message(), "my-labels.idx")) << b.status().message();
  EXPECT_TRUE(Contains(b.status().message(), "magic")) << b.status().message();

  // Byte-swapped magic (a little-endian writer).
  std::vector<uint8_t> swapped = ImagesBytes(3, 2, 2, kPixels);
  std::swap(swapped[0], swapped[3]);
  std::swap(swapped[1], swapped[2]);
  const auto c = ParseIdxImages(swapped, "swapped");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(Contains(c.status().message(), "magic")) << c.status().message();

  // Through the file reader the message names the path.
  const FreshDir d;
  WriteGz(d / "bad-magic.gz", ImagesBytes(3, 2, 2, kPixels, 0x00000802u));
  const auto e = ReadIdxImages((d / "bad-magic.gz").string());
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(Contains(e.status().message(), "bad-magic.gz")) << e.status().message();
  EXPECT_TRUE(Contains(e.status().message(), "magic")) << e.status().message();
}

TEST(Idx, DimsDisagreeWithBytes) {
  std::vector<uint8_t> fewer(kPixels.begin(), kPixels.end() - 1);
  std::vector<uint8_t> more = kPixels;
  more.push_back(99);
  for (const auto& px : {fewer, more}) {
    const auto r = ParseIdxImages(ImagesBytes(3, 2, 2, px), "imgs.idx");
    ASSERT_FALSE(r.ok()) << px.size() << " pixel bytes accepted for 3x2x2";
    EXPECT_TRUE(Contains(r.status().message(), "imgs.idx")) << r.status().message();
  }
  EXPECT_FALSE(ParseIdxLabels(LabelsBytes(3, {1, 2}), "l").ok());
  EXPECT_FALSE(ParseIdxLabels(LabelsBytes(3, {1, 2, 3, 4}), "l").ok());
  // Header only / shorter than a header / zero dimension.
  EXPECT_FALSE(ParseIdxImages(ImagesBytes(3, 2, 2, {}), "h").ok());
  EXPECT_FALSE(ParseIdxImages(std::vector<uint8_t>{0, 0, 8}, "h").ok());
  EXPECT_FALSE(ParseIdxImages(std::vector<uint8_t>(10, 0), "h").ok());
  std::vector<uint8_t> short_header = ImagesBytes(3, 2, 2, {});
  short_header.resize(12);
  EXPECT_FALSE(ParseIdxImages(short_header, "h").ok());
  EXPECT_FALSE(ParseIdxImages(ImagesBytes(0, 2, 2, {}), "h").ok());
  EXPECT_FALSE(ParseIdxLabels(LabelsBytes(0, {}), "h").ok());
  EXPECT_FALSE(ParseIdxLabels(std::vector<uint8_t>{}, "h").ok());
}

// dims 2^20 x 2^20 x 2^24: the product is 2^64, which wraps to 0 in a uint64_t; a header-only
// file must not be accepted as 2^20 images of 2^20 x 2^24 pixels with no pixel data.
// Disabled: fails against src/t81/data/idx.cc ParseHeader (the overflow guard runs after the
// multiply, so the third dimension can wrap the count). Enable once that is fixed.
TEST(Idx, HugeDimsDoNotWrap) {
  const auto r = ParseIdxImages(ImagesBytes(1u << 20, 1u << 20, 1u << 24, {}), "huge");
  EXPECT_FALSE(r.ok()) << "accepted n=" << r->n << " rows=" << r->rows << " cols=" << r->cols
                       << " with " << r->pixels.size() << " pixel bytes";
}

TEST(Idx, AbsurdDimsRejected) {
  const auto r = ParseIdxImages(ImagesBytes(0xffffffffu, 0xffffffffu, 0xffffffffu, {}), "huge");
  EXPECT_FALSE(r.ok());
}

TEST(Idx, TruncatedGzip) {
  const FreshDir d;
  const std::vector<uint8_t> payload = Payload(50000);
  WriteGz(d / "full.gz", payload);
  const std::vector<uint8_t> gz = ReadRaw(d / "full.gz");
  ASSERT_GT(gz.size(), 100u);

  const std::vector<uint8_t> tail_cut(gz.begin(), gz.end() - 10);
  const std::vector<uint8_t> mid_cut(gz.begin(), gz.begin() + ptrdiff_t(gz.size() / 2));
  const std::vector<uint8_t> trailer_cut(gz.begin(), gz.end() - 4);  // ISIZE missing
  int i = 0;
  for (const auto& bytes : {tail_cut, mid_cut, trailer_cut}) {
    const fs::path p = d / ("cut" + std::to_string(i++) + ".gz");
    WriteRaw(p, bytes);
    const auto r = ReadGzip(p.string());
    ASSERT_FALSE(r.ok()) << p << " (" << bytes.size() << " of " << gz.size() << " bytes) read as "
                         << r->size() << " bytes";
    EXPECT_TRUE(Contains(r.status().message(), "corrupt or truncated")) << r.status().message();
    EXPECT_TRUE(Contains(r.status().message(), p.filename().string())) << r.status().message();
  }
}

TEST(Idx, CorruptGzip) {
  const FreshDir d;
  const std::vector<uint8_t> payload = Payload(50000);
  WriteGz(d / "full.gz", payload);
  std::vector<uint8_t> gz = ReadRaw(d / "full.gz");
  ASSERT_GT(gz.size(), 200u);
  const size_t mid = gz.size() / 2;
  for (size_t k = 0; k < 8; ++k) gz[mid + k] ^= 0x5a;
  WriteRaw(d / "corrupt.gz", gz);
  const auto r = ReadGzip((d / "corrupt.gz").string());
  ASSERT_FALSE(r.ok()) << "corrupt stream read as " << r->size() << " bytes";
  EXPECT_TRUE(Contains(r.status().message(), "corrupt.gz")) << r.status().message();

  // A flipped byte in the CRC trailer only: the data decompresses but the check must fail.
  std::vector<uint8_t> crc = ReadRaw(d / "full.gz");
  crc[crc.size() - 8] ^= 0x01;
  WriteRaw(d / "crc.gz", crc);
  const auto c = ReadGzip((d / "crc.gz").string());
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(Contains(c.status().message(), "crc.gz")) << c.status().message();
}

TEST(Idx, MissingFileNamesIt) {
  const FreshDir d;
  const std::string p = (d / "no-such-file.gz").string();
  const auto r = ReadGzip(p);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "no-such-file.gz")) << r.status().message();
  const auto im = ReadIdxImages(p);
  ASSERT_FALSE(im.ok());
  EXPECT_TRUE(Contains(im.status().message(), "no-such-file.gz")) << im.status().message();
  // A folder is not a file.
  EXPECT_FALSE(ReadGzip(d.string()).ok());
}

// Writes <split>-images-idx3-ubyte.gz / <split>-labels-idx1-ubyte.gz.
void WriteSplit(const fs::path& d, const std::string& split, uint32_t n_images,
                const std::vector<uint8_t>& labels, uint32_t side = 28) {
  std::vector<uint8_t> px(size_t(n_images) * size_t(side * side));
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 37);
  WriteGz(d / (split + "-images-idx3-ubyte.gz"), ImagesBytes(n_images, side, side, px));
  WriteGz(d / (split + "-labels-idx1-ubyte.gz"), LabelsBytes(uint32_t(labels.size()), labels));
}

TEST(Idx, LoadFashionMnistTinyFolder) {
  const FreshDir d;
  WriteSplit(d, "train", 3, {4, 0, 9});
  const auto ds = LoadFashionMnist(d.string(), "train");
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  EXPECT_EQ(ds->n, 3);
  EXPECT_EQ(ds->dim, 784);
  EXPECT_EQ(ds->classes, 10);
  EXPECT_EQ(ds->y, (std::vector<int32_t>{4, 0, 9}));
  ASSERT_EQ(ds->x.size(), 3u * 784u);
  for (size_t i = 0; i < ds->x.size(); ++i) {
    const float want = (float(uint8_t(i * 37)) / 255.0f - kFashionMean) / kFashionStd;
    EXPECT_NEAR(ds->x[i], want, 1e-6f) << i;
  }
}

// Images of another size (a valid IDX file, just not Fashion-MNIST's 28 x 28) are refused
// before training, naming the file and both sizes.
TEST(Idx, FashionMnistImagesMustBe28x28) {
  const FreshDir d;
  for (uint32_t side : {2u, 27u, 32u}) {
    WriteSplit(d, "train", 3, {4, 0, 9}, side);
    const auto ds = LoadFashionMnist(d.string(), "train");
    ASSERT_FALSE(ds.ok()) << side;
    EXPECT_TRUE(Contains(ds.status().message(), "train-images-idx3-ubyte.gz")) << ds.status().message();
    EXPECT_TRUE(Contains(ds.status().message(), std::to_string(side) + " x " + std::to_string(side)))
        << ds.status().message();
    EXPECT_TRUE(Contains(ds.status().message(), "28 x 28")) << ds.status().message();
  }
  WriteSplit(d, "train", 3, {4, 0, 9}, 28);
  EXPECT_TRUE(LoadFashionMnist(d.string(), "train").ok());
}

TEST(Idx, LabelCountMismatch) {
  const FreshDir d;
  WriteSplit(d, "train", 3, {1, 2});
  const auto ds = LoadFashionMnist(d.string(), "train");
  ASSERT_FALSE(ds.ok());
  EXPECT_TRUE(Contains(ds.status().message(), "train-labels-idx1-ubyte.gz")) << ds.status().message();

  WriteSplit(d, "t10k", 2, {1, 2, 3});
  EXPECT_FALSE(LoadFashionMnist(d.string(), "t10k").ok());
}

TEST(Idx, LabelOutOfRange) {
  const FreshDir d;
  WriteSplit(d, "train", 3, {1, 10, 2});
  const auto ds = LoadFashionMnist(d.string(), "train");
  ASSERT_FALSE(ds.ok());
  EXPECT_TRUE(Contains(ds.status().message(), "10")) << ds.status().message();
  EXPECT_TRUE(Contains(ds.status().message(), "train-labels-idx1-ubyte.gz")) << ds.status().message();

  WriteSplit(d, "t10k", 2, {255, 0});
  EXPECT_FALSE(LoadFashionMnist(d.string(), "t10k").ok());
  WriteSplit(d, "t10k", 2, {9, 0});
  EXPECT_TRUE(LoadFashionMnist(d.string(), "t10k").ok());
}

TEST(Idx, MissingFolderNamesPackage) {
  const FreshDir base;
  const fs::path d = base / "does-not-exist";
  const auto ds = LoadFashionMnist(d.string(), "train");
  ASSERT_FALSE(ds.ok());
  EXPECT_TRUE(Contains(ds.status().message(), "dataset-fashion-mnist")) << ds.status().message();
  EXPECT_TRUE(Contains(ds.status().message(), d.string())) << ds.status().message();
}

TEST(Idx, MissingFileInFolder) {
  const FreshDir d;
  auto r = LoadFashionMnist(d.string(), "train");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "train-images-idx3-ubyte.gz")) << r.status().message();

  // Images present, labels missing.
  WriteSplit(d, "train", 3, {1, 2, 3});
  fs::remove(d / "train-labels-idx1-ubyte.gz");
  r = LoadFashionMnist(d.string(), "train");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "train-labels-idx1-ubyte.gz")) << r.status().message();
}

TEST(Idx, RealFashionMnistTestSplit) {
  if (!fs::is_directory(kFashionMnistDir)) GTEST_SKIP() << kFashionMnistDir << " not installed";
  const auto ds = LoadFashionMnist(kFashionMnistDir, "t10k");
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  EXPECT_EQ(ds->n, 10000);
  EXPECT_EQ(ds->dim, 784);
  ASSERT_EQ(ds->y.size(), 10000u);
  ASSERT_EQ(ds->x.size(), 10000u * 784u);
  EXPECT_EQ(std::vector<int32_t>(ds->y.begin(), ds->y.begin() + 10),
            (std::vector<int32_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  // Standardized pixels lie in [(0 - mean)/std, (1 - mean)/std].
  const float lo = (0.0f - kFashionMean) / kFashionStd, hi = (1.0f - kFashionMean) / kFashionStd;
  for (float v : ds->x) {
    ASSERT_GE(v, lo - 1e-5f);
    ASSERT_LE(v, hi + 1e-5f);
  }
}

}  // namespace
}  // namespace t81::data
