#include "t81/data/idx.h"

#include <zlib.h>

#include <filesystem>

namespace t81::data {
namespace {

uint32_t BigEndian32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// Checks the header (magic 0x0000 08 <ndims>) and that the payload is exactly the product of dims.
Result<std::vector<int64_t>> ParseHeader(const std::vector<uint8_t>& b, const std::string& name,
                                         uint32_t ndims) {
  if (b.size() < 4) return Error(name + ": file too short for an IDX header");
  const uint32_t magic = BigEndian32(b.data());
  const uint32_t want = 0x00000800u | ndims;
  if (magic != want) {
    char buf[128];
    std::snprintf(buf, sizeof(buf), ": bad IDX magic 0x%08x (expected 0x%08x)", magic, want);
    return Error(name + buf);
  }
  const size_t header = 4 + 4 * size_t(ndims);
  if (b.size() < header) return Error(name + ": truncated IDX header");
  std::vector<int64_t> dims(ndims);
  uint64_t count = 1;
  for (uint32_t i = 0; i < ndims; ++i) {
    dims[i] = BigEndian32(b.data() + 4 + 4 * i);
    if (dims[i] == 0) return Error(name + ": IDX dimension " + std::to_string(i) + " is zero");
    // Checked before multiplying, so the product can never wrap.
    if (uint64_t(dims[i]) > (uint64_t(1) << 40) / count)
      return Error(name + ": IDX dimensions are absurdly large");
    count *= uint64_t(dims[i]);
  }
  const uint64_t have = b.size() - header;
  if (have != count)
    return Error(name + ": IDX dims say " + std::to_string(count) + " bytes of data but the file has " +
                 std::to_string(have));
  return dims;
}

}  // namespace

Result<std::vector<uint8_t>> ReadGzip(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Error(path + ": file not found");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return Error(path + ": cannot open");
  gzbuffer(f, 1 << 20);
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    const int n = gzread(f, buf.data(), unsigned(buf.size()));
    if (n < 0) {
      int errnum = 0;
      const std::string msg = gzerror(f, &errnum);
      gzclose(f);
      return Error(path + ": corrupt or truncated gzip data (" + msg + ")");
    }
    if (n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + n);
  }
  int errnum = 0;
  const std::string msg = gzerror(f, &errnum);
  gzclose(f);
  if (errnum != Z_OK && errnum != Z_STREAM_END)
    return Error(path + ": corrupt or truncated gzip data (" + msg + ")");
  return out;
}

Result<IdxImages> ParseIdxImages(const std::vector<uint8_t>& bytes, const std::string& name) {
  T81_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ParseHeader(bytes, name, 3));
  IdxImages im;
  im.n = dims[0];
  im.rows = dims[1];
  im.cols = dims[2];
  im.pixels.assign(bytes.begin() + 16, bytes.end());
  return im;
}

Result<IdxLabels> ParseIdxLabels(const std::vector<uint8_t>& bytes, const std::string& name) {
  T81_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ParseHeader(bytes, name, 1));
  IdxLabels lb;
  lb.n = dims[0];
  lb.labels.assign(bytes.begin() + 8, bytes.end());
  return lb;
}

Result<IdxImages> ReadIdxImages(const std::string& path) {
  T81_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadGzip(path));
  return ParseIdxImages(bytes, path);
}

Result<IdxLabels> ReadIdxLabels(const std::string& path) {
  T81_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadGzip(path));
  return ParseIdxLabels(bytes, path);
}

Result<FashionRaw> ReadFashionMnistRaw(const std::string& dir, const std::string& split) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return Error("data folder '" + dir +
                 "' not found (install the Debian package dataset-fashion-mnist, or pass --data-dir)");
  const std::string images = dir + "/" + split + "-images-idx3-ubyte.gz";
  const std::string labels = dir + "/" + split + "-labels-idx1-ubyte.gz";
  FashionRaw raw;
  T81_ASSIGN_OR_RETURN(raw.images, ReadIdxImages(images));
  const IdxImages& im = raw.images;
  if (im.rows != kFashionSide || im.cols != kFashionSide)
    return Error(images + ": images are " + std::to_string(im.rows) + " x " + std::to_string(im.cols) +
                 " pixels; Fashion-MNIST's are 28 x 28");
  T81_ASSIGN_OR_RETURN(IdxLabels lb, ReadIdxLabels(labels));
  if (lb.n != im.n)
    return Error(labels + ": " + std::to_string(lb.n) + " labels for " + std::to_string(im.n) +
                 " images in " + images);
  raw.labels.resize(size_t(lb.n));
  for (int64_t i = 0; i < lb.n; ++i) {
    if (lb.labels[size_t(i)] >= 10)
      return Error(labels + ": label " + std::to_string(lb.labels[size_t(i)]) + " at index " +
                   std::to_string(i) + " is outside 0..9");
    raw.labels[size_t(i)] = lb.labels[size_t(i)];
  }
  return raw;
}

Result<Dataset> LoadFashionMnist(const std::string& dir, const std::string& split) {
  T81_ASSIGN_OR_RETURN(FashionRaw raw, ReadFashionMnistRaw(dir, split));
  Dataset ds;
  ds.n = raw.images.n;
  ds.dim = raw.images.rows * raw.images.cols;
  ds.x.resize(size_t(ds.n * ds.dim));
  for (size_t i = 0; i < ds.x.size(); ++i)
    ds.x[i] = (float(raw.images.pixels[i]) / 255.0f - kFashionMean) / kFashionStd;
  ds.y = std::move(raw.labels);
  return ds;
}

}  // namespace t81::data
