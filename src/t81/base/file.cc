#include "t81/base/file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace t81::base {

std::string TempPathFor(const std::string& path) { return path + "." + std::to_string(getpid()) + ".tmp"; }

namespace {

// Removes "<path>.<pid>.tmp" files (and the older "<path>.tmp") whose writing process no longer
// exists: what a SIGKILL or power cut left behind. Best effort: errors are ignored.
void RemoveStaleTemps(const std::filesystem::path& p) {
  namespace fs = std::filesystem;
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string base = p.filename().string() + ".";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= base.size() + 4 || name.compare(0, base.size(), base) != 0 ||
        name.compare(name.size() - 4, 4, ".tmp") != 0)
      continue;
    const std::string mid = name.substr(base.size(), name.size() - base.size() - 4);
    if (mid.empty() || mid.size() > 9 || mid.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = pid_t(std::stol(mid));
    if (pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH)) fs::remove(it->path(), ec);
  }
  fs::remove(p.string() + ".tmp", ec);
}

}  // namespace

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
  tmp_ = TempPathFor(path);
  written_ = 0;
  std::error_code ec;
  const fs::path p(path);
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), ec);
    if (ec) return Error(path + ": cannot create folder " + p.parent_path().string() + " (" + ec.message() + ")");
  }
  RemoveStaleTemps(p);
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

FolderLock::~FolderLock() {
  if (fd_ >= 0) close(fd_);  // releases the lock
}

Status FolderLock::Lock(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(path + ": cannot create folder " + dir.string() + " (" + ec.message() + ")");
  fd_ = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) return Error(path + ": cannot open folder " + dir.string() + " (" + std::strerror(errno) + ")");
  while (flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) return Error(path + ": cannot lock folder " + dir.string() + " (" + std::strerror(errno) + ")");
  }
  return OkStatus();
}

Status AppendLinesLocked(const std::string& path, const std::string& header, const std::vector<std::string>& lines) {
  FolderLock lock;
  T81_RETURN_IF_ERROR(lock.Lock(path));
  std::string content;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    T81_ASSIGN_OR_RETURN(content, ReadFile(path));
  }
  if (content.empty()) content = header + "\n";
  if (content.back() != '\n') content += '\n';
  // A file written before columns were added at the end gets the new header; its old rows keep
  // their fewer fields. Any other header is another table: refuse rather than mix them.
  const size_t eol = content.find('\n');
  const std::string old = content.substr(0, eol > 0 && content[eol - 1] == '\r' ? eol - 1 : eol);
  if (old != header) {
    if (header.rfind(old + ",", 0) != 0)
      return Error(path + ": its header is not this command's (" + header.substr(0, 40) + "...); move the file aside");
    content = header + content.substr(eol);
  }
  for (const std::string& l : lines) content += l + "\n";
  return WriteFileAtomic(path, content);
}

Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(path + ": cannot open");
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > max_bytes)
    return Error(path + ": " + std::to_string(size) + " bytes, more than t81's limit of " + std::to_string(max_bytes) +
                 " for this file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace t81::base
