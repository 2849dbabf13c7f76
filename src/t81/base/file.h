// File output that is whole or absent: everything is written to path.tmp and renamed over path
// only when complete, so a failure (disk full, a bad input found half-way) never leaves a partial
// file at path. Errors name the file and the system's reason.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "t81/base/status.h"

namespace t81::base {

// A file written in pieces. Open creates missing parent folders and path.tmp; Commit flushes,
// closes and renames it into place; destroyed without Commit (any error on the way), the temp
// file is removed.
class AtomicFileWriter {
 public:
  AtomicFileWriter() = default;
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  Status Open(const std::string& path);
  Status Write(const void* data, uint64_t bytes);
  Status WriteZeros(uint64_t bytes);
  uint64_t written() const { return written_; }
  Status Commit();
  const std::string& path() const { return path_; }

 private:
  Status Fail(const std::string& what, int err);  // closes and removes the temp file
  std::string path_, tmp_;
  FILE* f_ = nullptr;
  uint64_t written_ = 0;
};

// Writes content to path through path.tmp + rename; creates missing parent folders.
Status WriteFileAtomic(const std::string& path, const std::string& content);
// Whole file into memory.
Result<std::string> ReadFile(const std::string& path);

}  // namespace t81::base
