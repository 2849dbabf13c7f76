#include "t81/base/file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace t81::base {

AtomicFileWriter::~AtomicFileWriter() {
  if (f_) {
    std::fclose(f_);
    std::remove(tmp_.c_str());
  }
}

Status AtomicFileWriter::Fail(const std::string& what, int err) {
  if (f_) {
    std::fclose(f_);
    f_ = nullptr;
  }
  std::remove(tmp_.c_str());
  return Error(path_ + ": " + what + (err ? std::string(" (") + std::strerror(err) + ")" : std::string()));
}

Status AtomicFileWriter::Open(const std::string& path) {
  namespace fs = std::filesystem;
  path_ = path;
  tmp_ = path + ".tmp";
  written_ = 0;
  std::error_code ec;
  const fs::path p(path);
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), ec);
    if (ec) return Error(path + ": cannot create folder " + p.parent_path().string() + " (" + ec.message() + ")");
  }
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) return Error(path + ": cannot write " + tmp_ + " (" + std::strerror(errno) + ")");
  return OkStatus();
}

Status AtomicFileWriter::Write(const void* data, uint64_t bytes) {
  if (!f_) return Error(path_ + ": not open for writing");
  if (bytes && std::fwrite(data, 1, size_t(bytes), f_) != bytes) return Fail("write failed", errno);
  written_ += bytes;
  return OkStatus();
}

Status AtomicFileWriter::WriteZeros(uint64_t bytes) {
  static const std::vector<char> kZeros(4096, 0);
  while (bytes > 0) {
    const uint64_t n = std::min<uint64_t>(bytes, kZeros.size());
    T81_RETURN_IF_ERROR(Write(kZeros.data(), n));
    bytes -= n;
  }
  return OkStatus();
}

Status AtomicFileWriter::Commit() {
  if (!f_) return Error(path_ + ": not open for writing");
  // fflush reports a full disk for data still buffered; fclose for what the kernel refused late.
  if (std::fflush(f_) != 0) return Fail("write failed", errno);
  const int rc = std::fclose(f_);
  f_ = nullptr;
  if (rc != 0) return Fail("write failed", errno);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) return Fail("cannot rename " + tmp_ + " into place", errno);
  return OkStatus();
}

Status WriteFileAtomic(const std::string& path, const std::string& content) {
  AtomicFileWriter w;
  T81_RETURN_IF_ERROR(w.Open(path));
  T81_RETURN_IF_ERROR(w.Write(content.data(), content.size()));
  return w.Commit();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace t81::base
