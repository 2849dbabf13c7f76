// safetensors reader (mmap, every header field validated) and writer (atomic).
// Format: u64 LE header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [b, e]},
// "__metadata__": {str: str}}, then the data region; offsets are relative to the data region.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "t81/base/file.h"
#include "t81/base/mapped_file.h"
#include "t81/base/status.h"

namespace t81::io {

enum class DType : uint8_t { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };
const char* DTypeName(DType d);
int DTypeSize(DType d);

// n floats as dtype F32, F16 or BF16 (round to nearest even); other dtypes: empty.
std::vector<uint8_t> EncodeFloats(const float* x, size_t n, DType dtype);
Result<DType> ParseFloatDType(std::string_view s);  // f32 | f16 | bf16

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // within the data region
  int64_t numel() const;
};

class SafeTensorsFile {
 public:
  static Result<std::unique_ptr<SafeTensorsFile>> Open(const std::string& path);
  ~SafeTensorsFile();
  SafeTensorsFile(const SafeTensorsFile&) = delete;
  SafeTensorsFile& operator=(const SafeTensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* Find(const std::string& name) const;
  const uint8_t* data(const TensorInfo& t) const { return data_ + t.begin; }

  // Converts F32/F16/BF16 to float. Errors name the file and tensor.
  Result<std::vector<float>> ReadFloat(const std::string& name) const;
  // I64/I32 to int64.
  Result<std::vector<int64_t>> ReadInt(const std::string& name) const;
  // Drops the mapped pages of a tensor that has been read (streaming: keeps the resident set at
  // one tensor instead of the whole file). Reading it again maps it back in.
  void Release(const std::string& name) const;
  // The same for bytes [begin, end) of t's data only (a reader done with those rows).
  void Release(const TensorInfo& t, uint64_t begin, uint64_t end) const;

 private:
  SafeTensorsFile() = default;
  std::string path_;
  std::unique_ptr<base::MappedFile> map_;
  const uint8_t* data_ = nullptr;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// A Hugging Face checkpoint folder: model.safetensors, or the shards listed by
// model.safetensors.index.json ({"weight_map": {tensor: file}}).
struct Checkpoint {
  std::vector<std::unique_ptr<SafeTensorsFile>> files;
  std::map<std::string, const SafeTensorsFile*> where;  // tensor name -> file holding it
  const SafeTensorsFile* FileOf(const std::string& name) const {
    auto it = where.find(name);
    return it == where.end() ? nullptr : it->second;
  }
};
Result<Checkpoint> OpenCheckpoint(const std::string& dir);

// Collects tensors and writes them in one go (temp file + rename).
class SafeTensorsWriter {
 public:
  void AddF32(const std::string& name, std::vector<int64_t> shape, const float* data);
  void AddI64(const std::string& name, std::vector<int64_t> shape, const int64_t* data);
  void SetMetadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  Status Write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  void Add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data);
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Streams tensors to disk in a fixed order, so memory is bounded by one tensor: the header
// (all names, dtypes, shapes and sizes) is written first, then each tensor's bytes by Append in
// the same order; Finish renames path.tmp into place (nothing appears at path on failure).
class SafeTensorsStreamWriter {
 public:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t bytes;
  };
  Status Begin(const std::string& path, const std::vector<Entry>& entries,
               const std::map<std::string, std::string>& metadata);
  Status Append(const void* data, uint64_t bytes);  // the next entry's bytes, exactly
  Status Finish();

 private:
  base::AtomicFileWriter file_;
  std::vector<Entry> entries_;
  size_t next_ = 0;
};

}  // namespace t81::io
