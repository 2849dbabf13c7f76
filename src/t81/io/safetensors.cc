#include "t81/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "t81/base/json_limits.h"
#include "t81/base/fp16.h"
#include "t81/base/file.h"
#include "t81/base/mapped_file.h"

namespace t81::io {

const char* DTypeName(DType d) {
  static const char* const kNames[] = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"};
  return kNames[int(d)];
}

int DTypeSize(DType d) {
  static const int kSizes[] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};
  return kSizes[int(d)];
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {
bool ParseDType(const std::string& s, DType* d) {
  for (int i = 0; i <= int(DType::kBool); ++i)
    if (s == DTypeName(DType(i))) {
      *d = DType(i);
      return true;
    }
  return false;
}
}  // namespace

SafeTensorsFile::~SafeTensorsFile() = default;

Result<std::unique_ptr<SafeTensorsFile>> SafeTensorsFile::Open(const std::string& path) {
  std::unique_ptr<SafeTensorsFile> f(new SafeTensorsFile());
  f->path_ = path;
  T81_ASSIGN_OR_RETURN(f->map_, base::MappedFile::Open(path));
  const uint64_t size = f->map_->size();
  if (size < 8)
    return Error(path + ": truncated safetensors file (" + std::to_string(size) + " bytes, no header length)");
  const uint8_t* p = f->map_->data();
  uint64_t hlen;
  std::memcpy(&hlen, p, 8);
  if (hlen > size - 8)
    return Error(path + ": header length " + std::to_string(hlen) + " runs past the end of the file (" +
                 std::to_string(size) + " bytes)");
  const uint64_t data_size = size - 8 - hlen;
  f->data_ = p + 8 + hlen;
  T81_RETURN_IF_ERROR(base::CheckJsonLimits(std::string_view(reinterpret_cast<const char*>(p + 8), hlen), path + ": header"));
  nlohmann::json h = nlohmann::json::parse(p + 8, p + 8 + hlen, nullptr, /*allow_exceptions=*/false);
  if (h.is_discarded() || !h.is_object()) return Error(path + ": header is not a JSON object");
  std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> ranges;  // ((begin, end), name)
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) return Error(path + ": __metadata__ is not an object");
      for (auto m2 = it->begin(); m2 != it->end(); ++m2)
        if (m2->is_string()) f->metadata_[m2.key()] = m2->get<std::string>();
      continue;
    }
    const auto& v = *it;
    const std::string where = path + ": tensor '" + name + "'";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      return Error(where + ": needs dtype, shape and data_offsets");
    TensorInfo t;
    t.name = name;
    if (!v["dtype"].is_string() || !ParseDType(v["dtype"].get<std::string>(), &t.dtype))
      return Error(where + ": unknown dtype " + v["dtype"].dump());
    if (!v["shape"].is_array()) return Error(where + ": shape is not an array");
    uint64_t numel = 1;
    if (v["shape"].size() > 8) return Error(where + ": shape has " + std::to_string(v["shape"].size()) + " dimensions (at most 8)");
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) return Error(where + ": shape holds a non-integer or negative value");
      const uint64_t dim = d.get<uint64_t>();
      // Each dimension and their product within 2^50 (also when another dimension is 0).
      if (dim > (uint64_t(1) << 50) || (dim != 0 && numel > (uint64_t(1) << 50) / dim))
        return Error(where + ": shape is absurdly large");
      numel *= dim;
      t.shape.push_back(int64_t(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      return Error(where + ": data_offsets must be two non-negative integers");
    t.begin = off[0].get<uint64_t>();
    t.end = off[1].get<uint64_t>();
    if (t.begin > t.end || t.end > data_size)
      return Error(where + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                   "] out of bounds (data region is " + std::to_string(data_size) + " bytes)");
    if (t.end - t.begin != numel * uint64_t(DTypeSize(t.dtype)))
      return Error(where + ": " + std::to_string(t.end - t.begin) + " bytes for shape of " +
                   std::to_string(numel) + " " + DTypeName(t.dtype) + " elements");
    ranges.push_back({{t.begin, t.end}, name});
    f->index_[name] = f->tensors_.size();
    f->tensors_.push_back(std::move(t));
  }
  // Sorted by start, every non-empty range must begin at or after the furthest end seen so far
  // (comparing neighbours only would let an empty tensor hide an overlap).
  std::sort(ranges.begin(), ranges.end());
  uint64_t furthest = 0;
  std::string furthest_name;
  for (const auto& [r, name] : ranges) {
    if (r.first == r.second) continue;
    if (r.first < furthest)
      return Error(path + ": tensor data ranges overlap ('" + furthest_name + "' and '" + name + "')");
    furthest = r.second;
    furthest_name = name;
  }
  return f;
}

std::vector<uint8_t> EncodeFloats(const float* x, size_t n, DType dtype) {
  std::vector<uint8_t> out;
  if (dtype == DType::kF32) {
    out.resize(n * 4);
    if (n) std::memcpy(out.data(), x, n * 4);
  } else if (dtype == DType::kF16 || dtype == DType::kBF16) {
    out.resize(n * 2);
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = dtype == DType::kF16 ? base::Fp32ToFp16(x[i]) : base::Fp32ToBf16(x[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

Result<DType> ParseFloatDType(std::string_view s) {
  if (s == "f32") return DType::kF32;
  if (s == "f16") return DType::kF16;
  if (s == "bf16") return DType::kBF16;
  return Error("--dtype must be f32, f16 or bf16 (got '" + std::string(s) + "')");
}

const TensorInfo* SafeTensorsFile::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::vector<float>> SafeTensorsFile::ReadFloat(const std::string& name) const {
  const TensorInfo* t = Find(name);
  if (!t) return Error(path_ + ": missing tensor '" + name + "'");
  std::vector<float> out(size_t(t->numel()));
  const uint8_t* p = data(*t);
  switch (t->dtype) {
    case DType::kF32:
      if (!out.empty()) std::memcpy(out.data(), p, out.size() * 4);  // an empty vector may hold null
      break;
    case DType::kF16:
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = base::Fp16ToFp32(h);
      }
      break;
    case DType::kBF16:
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        const uint32_t bits = uint32_t(h) << 16;
        std::memcpy(&out[i], &bits, 4);
      }
      break;
    default:
      return Error(path_ + ": tensor '" + name + "' has dtype " + DTypeName(t->dtype) + ", expected F32, F16 or BF16");
  }
  return out;
}

void SafeTensorsFile::Release(const std::string& name) const {
  const TensorInfo* t = Find(name);
  if (t) Release(*t, 0, t->end - t->begin);
}

void SafeTensorsFile::Release(const TensorInfo& t, uint64_t begin, uint64_t end) const {
  const uint64_t base = uint64_t(data_ - map_->data());
  map_->Release(base + t.begin + begin, base + t.begin + std::min(end, t.end - t.begin));
}

Result<std::vector<int64_t>> SafeTensorsFile::ReadInt(const std::string& name) const {
  const TensorInfo* t = Find(name);
  if (!t) return Error(path_ + ": missing tensor '" + name + "'");
  std::vector<int64_t> out(size_t(t->numel()));
  const uint8_t* p = data(*t);
  if (t->dtype == DType::kI64) {
    if (!out.empty()) std::memcpy(out.data(), p, out.size() * 8);
  } else if (t->dtype == DType::kI32) {
    for (size_t i = 0; i < out.size(); ++i) {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      out[i] = v;
    }
  } else {
    return Error(path_ + ": tensor '" + name + "' has dtype " + DTypeName(t->dtype) + ", expected I64 or I32");
  }
  return out;
}

Result<Checkpoint> OpenCheckpoint(const std::string& dir) {
  Checkpoint c;
  const std::string single = dir + "/model.safetensors", index = dir + "/model.safetensors.index.json";
  std::error_code ec;
  if (std::filesystem::exists(single, ec)) {
    T81_ASSIGN_OR_RETURN(auto f, SafeTensorsFile::Open(single));
    c.files.push_back(std::move(f));
  } else if (std::filesystem::exists(index, ec)) {
    T81_ASSIGN_OR_RETURN(std::string text, base::ReadFile(index, base::kMaxJsonBytes));
    T81_RETURN_IF_ERROR(base::CheckJsonLimits(text, index));
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.contains("weight_map") || !j["weight_map"].is_object())
      return Error(index + ": no weight_map object");
    std::map<std::string, bool> opened;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it->is_string()) return Error(index + ": weight_map entry '" + it.key() + "' is not a file name");
      const std::string file = it->get<std::string>();
      if (file.find('/') != std::string::npos) return Error(index + ": shard name '" + file + "' has a path");
      if (opened[file]) continue;
      opened[file] = true;
      T81_ASSIGN_OR_RETURN(auto f, SafeTensorsFile::Open(dir + "/" + file));
      c.files.push_back(std::move(f));
    }
  } else {
    return Error(dir + ": no model.safetensors or model.safetensors.index.json");
  }
  for (const auto& f : c.files)
    for (const auto& t : f->tensors()) c.where[t.name] = f.get();
  return c;
}

void SafeTensorsWriter::Add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data) {
  Entry e{name, dtype, std::move(shape), {}};
  int64_t n = 1;
  for (int64_t d : e.shape) n *= d;
  e.bytes.resize(size_t(n) * size_t(DTypeSize(dtype)));
  if (!e.bytes.empty()) std::memcpy(e.bytes.data(), data, e.bytes.size());
  entries_.push_back(std::move(e));
}

void SafeTensorsWriter::AddF32(const std::string& name, std::vector<int64_t> shape, const float* data) {
  Add(name, DType::kF32, std::move(shape), data);
}

void SafeTensorsWriter::AddI64(const std::string& name, std::vector<int64_t> shape, const int64_t* data) {
  Add(name, DType::kI64, std::move(shape), data);
}

Status SafeTensorsWriter::Write(const std::string& path) const {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata_.empty()) h["__metadata__"] = metadata_;
  uint64_t off = 0;
  for (const Entry& e : entries_) {
    h[e.name] = {{"dtype", DTypeName(e.dtype)}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes.size()}}};
    off += e.bytes.size();
  }
  std::string header = h.dump();
  while ((8 + header.size()) % 8) header.push_back(' ');  // align the data region to 8 bytes
  std::string out(8, '\0');
  const uint64_t hlen = header.size();
  std::memcpy(out.data(), &hlen, 8);
  out += header;
  out.reserve(out.size() + off);
  for (const Entry& e : entries_) out.append(reinterpret_cast<const char*>(e.bytes.data()), e.bytes.size());
  return base::WriteFileAtomic(path, out);
}

Status SafeTensorsStreamWriter::Begin(const std::string& path, const std::vector<Entry>& entries,
                                      const std::map<std::string, std::string>& metadata) {
  entries_ = entries;
  next_ = 0;
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const Entry& e : entries) {
    h[e.name] = {{"dtype", DTypeName(e.dtype)}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes}}};
    off += e.bytes;
  }
  std::string header = h.dump();
  while ((8 + header.size()) % 8) header.push_back(' ');
  const uint64_t hlen = header.size();
  T81_RETURN_IF_ERROR(file_.Open(path));
  T81_RETURN_IF_ERROR(file_.Write(&hlen, 8));
  return file_.Write(header.data(), header.size());
}

Status SafeTensorsStreamWriter::Append(const void* data, uint64_t bytes) {
  T81_CHECK(next_ < entries_.size() && entries_[next_].bytes == bytes, "stream writer out of order");
  T81_RETURN_IF_ERROR(file_.Write(data, bytes));
  ++next_;
  return OkStatus();
}

Status SafeTensorsStreamWriter::Finish() {
  T81_CHECK(next_ == entries_.size(), "stream writer finished early");
  return file_.Commit();
}

}  // namespace t81::io
