// File output that is whole or absent: everything is written to a temp file beside path
// ("<path>.<pid>.tmp": one per process, so concurrent writers never share it, and never named like
// an output) and renamed over path only when complete, so a failure (disk full, a bad input found
// half-way, SIGKILL) never leaves a partial file at path. A temp file left by a killed process is
// removed by the next writer of the same path. Errors name the file and the system's reason.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "t81/base/status.h"

namespace t81::base {

// A file written in pieces. Open creates missing parent folders and the temp file (and removes
// stale temp files of path whose process is gone); Commit flushes, closes and renames it into
// place; destroyed without Commit (any error on the way), the temp file is removed.
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

// The temp file AtomicFileWriter uses for path in this process.
std::string TempPathFor(const std::string& path);
// Writes content to path through a temp file + rename; creates missing parent folders.
Status WriteFileAtomic(const std::string& path, const std::string& content);
// An exclusive lock (flock) on the folder that holds path, held for the object's life: writers
// that read, change and replace a file there (CSV appends) take it so that concurrent processes
// never lose or interleave each other's rows. Creates the folder if missing.
class FolderLock {
 public:
  FolderLock() = default;
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  Status Lock(const std::string& path);

 private:
  int fd_ = -1;
};

// Appends lines to a text file (header first when the file is new or empty) by rewriting it
// whole through a temp file, under the FolderLock. A file whose header is a prefix of header
// (columns since added at the end) gets the new header; one with another header is an error.
// Under the lock, concurrent appenders keep every line, each in
// one piece, and a failure or kill leaves the old file.
Status AppendLinesLocked(const std::string& path, const std::string& header, const std::vector<std::string>& lines);
// Whole file into memory; an error naming the file if it is larger than max_bytes.
Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes = UINT64_MAX);

}  // namespace t81::base
