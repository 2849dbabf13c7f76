#include "t81/io/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "t81/base/file.h"
#include "t81/base/mapped_file.h"
#include "t81/base/fp16.h"
#include "t81/quant/q8_0.h"
#include "t81/quant/tq.h"

namespace t81::io {

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

Result<uint64_t> GgmlTensorBytes(uint32_t type, const std::vector<int64_t>& ne) {
  const quant::GgmlTypeInfo* t = quant::GgmlTypeOf(type);
  if (!t) return Error("unknown ggml type " + std::to_string(type));
  if (ne.empty()) return Error("tensor with no dimensions");
  if (ne[0] % t->block)
    return Error(std::string(t->name) + " needs rows that are a multiple of " + std::to_string(t->block) +
                 " elements (row length " + std::to_string(ne[0]) + ")");
  uint64_t rows = 1;
  for (size_t i = 1; i < ne.size(); ++i) rows *= uint64_t(ne[i]);
  return rows * uint64_t(ne[0] / t->block) * uint64_t(t->size);
}

namespace {

// Bounds-checked cursor over the mapped file.
class Cursor {
 public:
  Cursor(const uint8_t* p, uint64_t size, const std::string& path) : p_(p), size_(size), path_(path) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }
  Status Need(uint64_t n, const char* what) const {
    if (n > left()) return Error(path_ + ": truncated file (" + what + " at byte " + std::to_string(pos_) + ")");
    return OkStatus();
  }
  template <typename T>
  Status Read(T* v, const char* what) {
    T81_RETURN_IF_ERROR(Need(sizeof(T), what));
    std::memcpy(v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return OkStatus();
  }
  Status ReadString(std::string* s, const char* what) {
    uint64_t n;
    T81_RETURN_IF_ERROR(Read(&n, what));
    if (n > left()) return Error(path_ + ": string length " + std::to_string(n) + " runs past the end of the file (" + what + ")");
    if (n > (uint64_t(1) << 24)) return Error(path_ + ": absurd string length " + std::to_string(n) + " (" + what + ")");
    s->assign(reinterpret_cast<const char*>(p_ + pos_), size_t(n));
    pos_ += n;
    return OkStatus();
  }
  void Seek(uint64_t p) { pos_ = p; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& path_;
};

int ScalarSize(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    default: return 0;
  }
}

Status ReadScalar(Cursor& c, GgufType t, GgufValue* v, const std::string& key) {
  const char* what = "metadata value";
  switch (t) {
    case GgufType::kU8: { uint8_t x{}; T81_RETURN_IF_ERROR(c.Read(&x, what)); v->u = x; v->i = x; v->f = x; break; }
    case GgufType::kI8: { int8_t x{}; T81_RETURN_IF_ERROR(c.Read(&x, what)); v->i = x; v->f = x; break; }
    case GgufType::kU16: { uint16_t x{}; T81_RETURN_IF_ERROR(c.Read(&x, what)); v->u = x; v->i = x; v->f = x; break; }
    case GgufType::kI16: { int16_t x{}; T81_RETURN_IF_ERROR(c.Read(&x, what)); v->i = x; v->f = x; break; }
    case GgufType::kU32: { uint32_t x{}; T81_RETURN_IF_ERROR(c.Read(&x, what)); v->u = x; v->i = x; v->f = x; break; }
    case GgufType::kI32: { int32_t x{}; T81_RETURN_IF_ERROR(c.Read(&x, what)); v->i = x; v->f = x; break; }
    case GgufType::kF32: { float x{}; T81_RETURN_IF_ERROR(c.Read(&x, what)); v->f = x; break; }
    case GgufType::kBool: { uint8_t x{}; T81_RETURN_IF_ERROR(c.Read(&x, what)); v->b = x != 0; v->i = x; v->f = x; break; }
    case GgufType::kU64: { uint64_t x{}; T81_RETURN_IF_ERROR(c.Read(&x, what)); v->u = x; v->i = int64_t(x); v->f = double(x); break; }
    case GgufType::kI64: { int64_t x{}; T81_RETURN_IF_ERROR(c.Read(&x, what)); v->i = x; v->f = double(x); break; }
    case GgufType::kF64: { double x{}; T81_RETURN_IF_ERROR(c.Read(&x, what)); v->f = x; break; }
    case GgufType::kString: T81_RETURN_IF_ERROR(c.ReadString(&v->s, what)); break;
    default: return Error(c.path() + ": unknown metadata type " + std::to_string(uint32_t(t)) + " for key '" + key + "'");
  }
  return OkStatus();
}

}  // namespace

GgufFile::~GgufFile() = default;

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  T81_ASSIGN_OR_RETURN(f->map_, base::MappedFile::Open(path));
  f->size_ = f->map_->size();
  if (f->size_ < 24) return Error(path + ": truncated file (" + std::to_string(f->size_) + " bytes, no GGUF header)");
  const uint8_t* base = f->map_->data();
  Cursor c(base, f->size_, f->path_);
  char magic[4];
  T81_RETURN_IF_ERROR(c.Read(&magic, "magic"));
  if (std::memcmp(magic, "GGUF", 4) != 0) return Error(path + ": bad magic (not a GGUF file)");
  T81_RETURN_IF_ERROR(c.Read(&f->version_, "version"));
  if (f->version_ != 2 && f->version_ != 3)
    return Error(path + ": unsupported GGUF version " + std::to_string(f->version_) + " (expected 2 or 3)");
  uint64_t n_tensors, n_kv;
  T81_RETURN_IF_ERROR(c.Read(&n_tensors, "tensor count"));
  T81_RETURN_IF_ERROR(c.Read(&n_kv, "metadata count"));
  // Each KV needs at least 8 + 4 bytes, each tensor info at least 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.left() / 12) return Error(path + ": absurd metadata count " + std::to_string(n_kv));
  if (n_tensors > c.left() / 32) return Error(path + ": absurd tensor count " + std::to_string(n_tensors));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key;
    T81_RETURN_IF_ERROR(c.ReadString(&key, "metadata key"));
    uint32_t type;
    T81_RETURN_IF_ERROR(c.Read(&type, "metadata type"));
    GgufValue v;
    v.type = GgufType(type);
    if (v.type == GgufType::kArray) {
      uint32_t et;
      uint64_t n;
      T81_RETURN_IF_ERROR(c.Read(&et, "array type"));
      T81_RETURN_IF_ERROR(c.Read(&n, "array length"));
      v.elem_type = GgufType(et);
      if (v.elem_type == GgufType::kArray) return Error(path + ": nested array in key '" + key + "'");
      const int es = ScalarSize(v.elem_type);
      if (v.elem_type != GgufType::kString && es == 0)
        return Error(path + ": unknown array element type " + std::to_string(et) + " in key '" + key + "'");
      const uint64_t min_each = v.elem_type == GgufType::kString ? 8 : uint64_t(es);
      if (n > c.left() / min_each)
        return Error(path + ": array '" + key + "' of " + std::to_string(n) + " elements runs past the end of the file");
      for (uint64_t k = 0; k < n; ++k) {
        GgufValue e;
        T81_RETURN_IF_ERROR(ReadScalar(c, v.elem_type, &e, key));
        if (v.elem_type == GgufType::kString) v.strs.push_back(std::move(e.s));
        else v.nums.push_back(e.f);
      }
    } else {
      T81_RETURN_IF_ERROR(ReadScalar(c, v.type, &v, key));
    }
    if (f->kv_.count(key)) return Error(path + ": duplicate metadata key '" + key + "'");
    f->kv_[key] = std::move(v);
  }
  if (const GgufValue* a = f->Find("general.alignment")) {
    if (a->type != GgufType::kU32 || a->u == 0 || (a->u & (a->u - 1)))
      return Error(path + ": general.alignment must be a power of two (u32)");
    f->alignment_ = a->u;
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    T81_RETURN_IF_ERROR(c.ReadString(&t.name, "tensor name"));
    uint32_t nd;
    T81_RETURN_IF_ERROR(c.Read(&nd, "tensor dims"));
    if (nd == 0 || nd > 4) return Error(path + ": tensor '" + t.name + "' has " + std::to_string(nd) + " dimensions (1 to 4)");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t ne;
      T81_RETURN_IF_ERROR(c.Read(&ne, "tensor shape"));
      if (ne == 0 || ne > (uint64_t(1) << 40) || numel > (uint64_t(1) << 42) / ne)
        return Error(path + ": tensor '" + t.name + "' has an absurd shape");
      numel *= ne;
      t.ne.push_back(int64_t(ne));
    }
    T81_RETURN_IF_ERROR(c.Read(&t.type, "tensor type"));
    T81_RETURN_IF_ERROR(c.Read(&t.offset, "tensor offset"));
    auto bytes = GgmlTensorBytes(t.type, t.ne);
    if (!bytes.ok()) return Error(path + ": tensor '" + t.name + "': " + bytes.status().message());
    t.bytes = bytes.value();
    if (t.offset % f->alignment_)
      return Error(path + ": tensor '" + t.name + "' offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                   std::to_string(f->alignment_));
    if (f->index_.count(t.name)) return Error(path + ": duplicate tensor '" + t.name + "'");
    f->index_[t.name] = f->tensors_.size();
    f->tensors_.push_back(std::move(t));
  }
  const uint64_t data_start = (c.pos() + f->alignment_ - 1) / f->alignment_ * f->alignment_;
  if (data_start > f->size_) return Error(path + ": truncated file (no data section)");
  f->data_ = base + data_start;
  f->data_offset_ = data_start;
  const uint64_t data_size = f->size_ - data_start;
  for (const GgufTensor& t : f->tensors_)
    if (t.offset > data_size || t.bytes > data_size - t.offset)
      return Error(path + ": tensor '" + t.name + "' data is not within the file (truncated or bad offset)");
  // No two tensors may share bytes (every tensor has at least one element, so a range is never
  // empty): sorted by offset, each must start at or after the previous one's end.
  std::vector<std::pair<uint64_t, size_t>> order;
  for (size_t i = 0; i < f->tensors_.size(); ++i) order.push_back({f->tensors_[i].offset, i});
  std::sort(order.begin(), order.end());
  for (size_t i = 1; i < order.size(); ++i) {
    const GgufTensor& a = f->tensors_[order[i - 1].second];
    const GgufTensor& b = f->tensors_[order[i].second];
    if (b.offset < a.offset + a.bytes)
      return Error(path + ": tensor data ranges overlap ('" + a.name + "' and '" + b.name + "')");
  }
  return f;
}

const GgufValue* GgufFile::Find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::FindTensor(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void GgufFile::Release(const GgufTensor& t) const { Release(t, 0, t.bytes); }

void GgufFile::Release(const GgufTensor& t, uint64_t begin, uint64_t end) const {
  const uint64_t base = uint64_t(data_ - map_->data()) + t.offset;
  map_->Release(base + begin, base + std::min(end, t.bytes));
}

Result<std::vector<float>> GgufFile::Dequantize(const GgufTensor& t) const {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  T81_RETURN_IF_ERROR(DequantizeInto(t, out.data()));
  return out;
}

Status GgufFile::DequantizeInto(const GgufTensor& t, float* out) const { return DequantizeRows(t, 0, rows(t), out); }

Status GgufFile::DequantizeRows(const GgufTensor& t, int64_t r0, int64_t r1, float* out) const {
  const int64_t nrows = rows(t);
  T81_CHECK(0 <= r0 && r0 <= r1 && r1 <= nrows, "row range outside the tensor");
  if (r0 == r1) return OkStatus();
  // Every supported type stores whole rows: bytes / rows per row (sizes checked at Open).
  const uint64_t row_bytes = t.bytes / uint64_t(nrows);
  const int64_t n = (r1 - r0) * t.ne[0];
  const uint8_t* p = data(t) + uint64_t(r0) * row_bytes;
  switch (t.type) {
    case quant::kGgmlF32: std::memcpy(out, p, size_t(n) * 4); break;
    case quant::kGgmlF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[size_t(i)] = base::Fp16ToFp32(h);
      }
      break;
    case quant::kGgmlQ8_0: quant::DequantizeQ8_0(p, n, out); break;
    case quant::kGgmlTq1_0:
    case quant::kGgmlTq2_0: {
      quant::TernaryMatrix m;
      m.format = t.type == quant::kGgmlTq1_0 ? quant::TqFormat::kTq1_0 : quant::TqFormat::kTq2_0;
      m.cols = t.ne[0];
      m.rows = r1 - r0;
      m.data.assign(p, p + uint64_t(r1 - r0) * row_bytes);
      quant::Dequantize(m, out);
      break;
    }
    default:
      return Error(path_ + ": tensor '" + t.name + "' has type " + quant::GgmlTypeOf(t.type)->name + ", which t81 does not dequantize");
  }
  return OkStatus();
}

namespace {
void PutRaw(std::string* s, const void* p, size_t n) { s->append(static_cast<const char*>(p), n); }
template <typename T>
void PutVal(std::string* s, T v) { PutRaw(s, &v, sizeof(T)); }
void PutStr(std::string* s, const std::string& v) {
  PutVal<uint64_t>(s, v.size());
  s->append(v);
}
}  // namespace

void GgufWriter::Put(const std::string& key, std::string encoded) {
  for (Kv& kv : kv_)
    if (kv.key == key) {
      kv.encoded = std::move(encoded);
      return;
    }
  kv_.push_back({key, std::move(encoded)});
}

void GgufWriter::SetString(const std::string& key, const std::string& v) {
  std::string e;
  PutVal<uint32_t>(&e, uint32_t(GgufType::kString));
  PutStr(&e, v);
  Put(key, std::move(e));
}
void GgufWriter::SetU32(const std::string& key, uint32_t v) {
  std::string e;
  PutVal<uint32_t>(&e, uint32_t(GgufType::kU32));
  PutVal(&e, v);
  Put(key, std::move(e));
  if (key == "general.alignment") alignment_ = v;
}
void GgufWriter::SetI32(const std::string& key, int32_t v) {
  std::string e;
  PutVal<uint32_t>(&e, uint32_t(GgufType::kI32));
  PutVal(&e, v);
  Put(key, std::move(e));
}
void GgufWriter::SetF32(const std::string& key, float v) {
  std::string e;
  PutVal<uint32_t>(&e, uint32_t(GgufType::kF32));
  PutVal(&e, v);
  Put(key, std::move(e));
}
void GgufWriter::SetBool(const std::string& key, bool v) {
  std::string e;
  PutVal<uint32_t>(&e, uint32_t(GgufType::kBool));
  PutVal<uint8_t>(&e, v ? 1 : 0);
  Put(key, std::move(e));
}
void GgufWriter::SetStringArray(const std::string& key, const std::vector<std::string>& v) {
  std::string e;
  PutVal<uint32_t>(&e, uint32_t(GgufType::kArray));
  PutVal<uint32_t>(&e, uint32_t(GgufType::kString));
  PutVal<uint64_t>(&e, v.size());
  for (const auto& s : v) PutStr(&e, s);
  Put(key, std::move(e));
}
void GgufWriter::SetI32Array(const std::string& key, const std::vector<int32_t>& v) {
  std::string e;
  PutVal<uint32_t>(&e, uint32_t(GgufType::kArray));
  PutVal<uint32_t>(&e, uint32_t(GgufType::kI32));
  PutVal<uint64_t>(&e, v.size());
  PutRaw(&e, v.data(), v.size() * 4);
  Put(key, std::move(e));
}
void GgufWriter::SetF32Array(const std::string& key, const std::vector<float>& v) {
  std::string e;
  PutVal<uint32_t>(&e, uint32_t(GgufType::kArray));
  PutVal<uint32_t>(&e, uint32_t(GgufType::kF32));
  PutVal<uint64_t>(&e, v.size());
  PutRaw(&e, v.data(), v.size() * 4);
  Put(key, std::move(e));
}

Status GgufWriter::AddTensorInfo(const std::string& name, const std::vector<int64_t>& ne, uint32_t type) {
  T81_ASSIGN_OR_RETURN(uint64_t size, GgmlTensorBytes(type, ne));
  for (const Tensor& t : tensors_)
    if (t.name == name) return Error("tensor '" + name + "' added twice");
  tensors_.push_back({name, ne, type, size, {}});
  return OkStatus();
}

Status GgufWriter::AddTensor(const std::string& name, const std::vector<int64_t>& ne, uint32_t type,
                             std::vector<uint8_t> bytes) {
  T81_RETURN_IF_ERROR(AddTensorInfo(name, ne, type));
  if (tensors_.back().size != bytes.size()) {
    const uint64_t want = tensors_.back().size;
    tensors_.pop_back();
    return Error("tensor '" + name + "': " + std::to_string(bytes.size()) + " bytes given, " + std::to_string(want) + " needed");
  }
  tensors_.back().bytes = std::move(bytes);
  return OkStatus();
}

Status GgufWriter::Write(const std::string& path) const {
  return WriteStreaming(path, [this](size_t i) -> Result<std::vector<uint8_t>> { return tensors_[i].bytes; });
}

Status GgufWriter::WriteStreaming(const std::string& path, const TensorBytesFn& bytes) const {
  std::string head;
  head.append("GGUF", 4);
  PutVal<uint32_t>(&head, 3);
  PutVal<uint64_t>(&head, tensors_.size());
  PutVal<uint64_t>(&head, kv_.size());
  for (const Kv& kv : kv_) {
    PutStr(&head, kv.key);
    head += kv.encoded;
  }
  uint64_t off = 0;
  auto align = [&](uint64_t x) { return (x + alignment_ - 1) / alignment_ * alignment_; };
  for (const Tensor& t : tensors_) {
    PutStr(&head, t.name);
    PutVal<uint32_t>(&head, uint32_t(t.ne.size()));
    for (int64_t d : t.ne) PutVal<uint64_t>(&head, uint64_t(d));
    PutVal<uint32_t>(&head, t.type);
    PutVal<uint64_t>(&head, off);
    off = align(off + t.size);
  }
  head.resize(size_t(align(head.size())), '\0');
  base::AtomicFileWriter f;
  T81_RETURN_IF_ERROR(f.Open(path));
  T81_RETURN_IF_ERROR(f.Write(head.data(), head.size()));
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& t = tensors_[i];
    T81_ASSIGN_OR_RETURN(const std::vector<uint8_t> b, bytes(i));
    if (b.size() != t.size)
      return Error(path + ": tensor '" + t.name + "' has " + std::to_string(b.size()) + " bytes, " + std::to_string(t.size) +
                   " needed");
    T81_RETURN_IF_ERROR(f.Write(b.data(), b.size()));
    T81_RETURN_IF_ERROR(f.WriteZeros(align(f.written()) - f.written()));
  }
  return f.Commit();
}

}  // namespace t81::io
