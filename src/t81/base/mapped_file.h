// A read-only memory map of a whole regular file (the checkpoint readers' input).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "t81/base/status.h"

namespace t81::base {

class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  // Drops the resident pages wholly inside bytes [begin, end) of the file (a loader's copy is
  // done with them; touching them again re-reads the file).
  void Release(uint64_t begin, uint64_t end) const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace t81::base
