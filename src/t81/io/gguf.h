// GGUF v3 reader (mmap; every count, length, type and offset checked against the bytes present)
// and writer (atomic, tensors aligned to general.alignment). Layout:
//   "GGUF" u32 version, u64 n_tensors, u64 n_kv, KV pairs (gguf string key, u32 type, value),
//   tensor infos (name, u32 n_dims, u64 ne[n_dims] with ne[0] = row length, u32 ggml type,
//   u64 offset from the data section), padding to the alignment, data section.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "t81/base/mapped_file.h"
#include "t81/base/status.h"
#include "t81/quant/ggml_types.h"

namespace t81::io {

enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// A metadata value: scalars in i/u/f/b/s, arrays in the vectors (elem_type says which).
struct GgufValue {
  GgufType type = GgufType::kU32;
  GgufType elem_type = GgufType::kU32;
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  bool b = false;
  std::string s;
  std::vector<std::string> strs;
  std::vector<double> nums;  // numeric arrays, converted
  size_t array_size() const { return type == GgufType::kArray ? (elem_type == GgufType::kString ? strs.size() : nums.size()) : 0; }
};

struct GgufTensor {
  std::string name;
  std::vector<int64_t> ne;  // ne[0] = row length
  uint32_t type = 0;        // a ggml type id (quant/ggml_types.h)
  uint64_t offset = 0, bytes = 0;
  int64_t numel() const;
};

class GgufFile {
 public:
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }
  const std::map<std::string, GgufValue>& kv() const { return kv_; }
  const GgufValue* Find(const std::string& key) const;
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* FindTensor(const std::string& name) const;
  const uint8_t* data(const GgufTensor& t) const { return data_ + t.offset; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the tensor data section
  // Drops t's resident file pages (after the caller copied them); or those of its bytes
  // [begin, end) only.
  void Release(const GgufTensor& t) const;
  void Release(const GgufTensor& t, uint64_t begin, uint64_t end) const;
  // F32, F16, Q8_0, TQ1_0, TQ2_0 to float (ne[0] · rows values).
  Result<std::vector<float>> Dequantize(const GgufTensor& t) const;
  Status DequantizeInto(const GgufTensor& t, float* out) const;  // out: numel values
  // Rows [r0, r1) of t (row = ne[0] values) into out ((r1 - r0) · ne[0] values); reads only
  // those rows' bytes, so callers can walk a tensor larger than memory in chunks.
  Status DequantizeRows(const GgufTensor& t, int64_t r0, int64_t r1, float* out) const;
  int64_t rows(const GgufTensor& t) const { return t.ne.empty() || t.ne[0] == 0 ? 0 : t.numel() / t.ne[0]; }

 private:
  GgufFile() = default;
  std::string path_;
  std::unique_ptr<base::MappedFile> map_;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  const uint8_t* data_ = nullptr;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> index_;
};

class GgufWriter {
 public:
  void SetString(const std::string& key, const std::string& v);
  void SetU32(const std::string& key, uint32_t v);
  void SetI32(const std::string& key, int32_t v);
  void SetF32(const std::string& key, float v);
  void SetBool(const std::string& key, bool v);
  void SetStringArray(const std::string& key, const std::vector<std::string>& v);
  void SetI32Array(const std::string& key, const std::vector<int32_t>& v);
  void SetF32Array(const std::string& key, const std::vector<float>& v);
  // ne[0] = row length. bytes must hold exactly the type's size for ne.
  Status AddTensor(const std::string& name, const std::vector<int64_t>& ne, uint32_t type,
                   std::vector<uint8_t> bytes);
  Status Write(const std::string& path) const;  // temp file + rename
  // A tensor whose bytes come later, from WriteStreaming's producer.
  Status AddTensorInfo(const std::string& name, const std::vector<int64_t>& ne, uint32_t type);
  // Writes the file tensor by tensor: the header, then bytes(i) for each tensor in the order
  // added (exactly its type's size for its shape), aligned; temp file + rename, nothing at path on
  // any error. Memory: the header and one tensor.
  using TensorBytesFn = std::function<Result<std::vector<uint8_t>>(size_t index)>;
  Status WriteStreaming(const std::string& path, const TensorBytesFn& bytes) const;
  int64_t tensor_count() const { return int64_t(tensors_.size()); }

 private:
  struct Kv {
    std::string key;
    std::string encoded;  // type + value bytes
  };
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
    uint64_t size;               // bytes its type and shape take
    std::vector<uint8_t> bytes;  // empty for AddTensorInfo
  };
  void Put(const std::string& key, std::string encoded);
  std::vector<Kv> kv_;
  std::vector<Tensor> tensors_;
  uint32_t alignment_ = 32;
};

// Bytes a tensor of this type and shape takes; error if the row length is not a whole number of
// blocks or the type is unknown.
Result<uint64_t> GgmlTensorBytes(uint32_t type, const std::vector<int64_t>& ne);

}  // namespace t81::io
