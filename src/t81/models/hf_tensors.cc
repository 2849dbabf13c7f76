#include "t81/models/hf_tensors.h"

#include <algorithm>

#include "t81/base/file.h"
#include "t81/base/rng.h"

namespace t81::models {

void InitHfValues(const HfTensor& h, size_t i, uint64_t seed, float* values) {
  const int64_t n = h.numel();
  if (h.shape.size() == 1) {
    std::fill(values, values + n, h.norm_weight ? 1.0f : 0.0f);
    return;
  }
  // A stream per (tensor, chunk of 2^20 values): chunks fill in parallel, the same on any thread count.
  constexpr int64_t kChunk = int64_t(1) << 20;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(dynamic)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    base::Rng rng(seed ^ (0x9E3779B97F4A7C15ull * (uint64_t(i) + 1)) ^ (0xBF58476D1CE4E5B9ull * uint64_t(ch)));
    for (int64_t k = ch * kChunk; k < std::min(n, (ch + 1) * kChunk); ++k) values[k] = float(rng.Normal() * 0.02);
  }
}

void InitHfArena(const std::vector<HfTensor>& map, uint64_t seed, float* arena) {
  std::vector<float> v;
  for (size_t i = 0; i < map.size(); ++i) {
    v.resize(size_t(map[i].numel()));
    InitHfValues(map[i], i, seed, v.data());
    HfToRows(map[i], v.data(), arena + map[i].first());
  }
}

Status WriteInitFolder(const std::vector<HfTensor>& map, const std::string& config_json, uint64_t seed, io::DType dtype,
                       const std::string& out_dir) {
  std::vector<io::SafeTensorsStreamWriter::Entry> entries;
  for (const HfTensor& h : map)
    entries.push_back({h.name, dtype, h.shape, uint64_t(h.numel()) * uint64_t(io::DTypeSize(dtype))});
  io::SafeTensorsStreamWriter w;
  T81_RETURN_IF_ERROR(w.Begin(out_dir + "/model.safetensors", entries, {{"format", "pt"}}));
  std::vector<float> v;
  for (size_t i = 0; i < map.size(); ++i) {
    v.resize(size_t(map[i].numel()));
    InitHfValues(map[i], i, seed, v.data());
    const std::vector<uint8_t> bytes = io::EncodeFloats(v.data(), v.size(), dtype);
    T81_RETURN_IF_ERROR(w.Append(bytes.data(), bytes.size()));
  }
  T81_RETURN_IF_ERROR(w.Finish());
  return base::WriteFileAtomic(out_dir + "/config.json", config_json);
}

std::vector<std::pair<size_t, size_t>> NoDecayRanges(const std::vector<HfTensor>& map,
                                                     const std::vector<std::string>& also) {
  std::vector<std::pair<size_t, size_t>> r;
  for (const HfTensor& h : map)
    if (h.shape.size() == 1 || std::find(also.begin(), also.end(), h.name) != also.end())
      r.emplace_back(h.first(), h.first() + size_t(h.numel()));
  std::sort(r.begin(), r.end());
  std::vector<std::pair<size_t, size_t>> merged;
  for (const auto& x : r)
    if (!merged.empty() && x.first <= merged.back().second) merged.back().second = std::max(merged.back().second, x.second);
    else merged.push_back(x);
  return merged;
}

std::string ShapeString(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

namespace {
// HF layout <-> internal rows; the only place a Conv1D (in, out) weight is transposed.
void Copy(const HfTensor& h, const float* src, float* dst, bool to_rows) {
  if (!h.transpose) {
    std::copy(src, src + h.numel(), dst);
    return;
  }
  for (int64_t r = 0; r < h.nrows; ++r)
    for (int64_t c = 0; c < h.cols; ++c) {
      const int64_t row_major = r * h.cols + c, hf = c * h.nrows + r;
      dst[to_rows ? row_major : hf] = src[to_rows ? hf : row_major];
    }
}
}  // namespace

void HfToRows(const HfTensor& h, const float* hf, float* rows) { Copy(h, hf, rows, true); }
void RowsToHf(const HfTensor& h, const float* rows, float* hf) { Copy(h, rows, hf, false); }

Status CheckHfTensors(const std::vector<HfTensor>& map, const io::Checkpoint& ckpt, const std::string& dir) {
  for (const HfTensor& h : map) {
    const io::SafeTensorsFile* file = ckpt.FileOf(h.name);
    if (!file) return Error(dir + ": missing tensor '" + h.name + "'");
    const io::TensorInfo* t = file->Find(h.name);
    if (t->shape != h.shape)
      return Error(file->path() + ": tensor '" + h.name + "' has shape " + ShapeString(t->shape) +
                   " but config.json implies " + ShapeString(h.shape));
  }
  return OkStatus();
}

Result<std::vector<float>> ReadHfRows(const HfTensor& h, const io::Checkpoint& ckpt, const std::string& dir) {
  const io::SafeTensorsFile* file = ckpt.FileOf(h.name);
  if (!file) return Error(dir + ": missing tensor '" + h.name + "'");
  T81_ASSIGN_OR_RETURN(std::vector<float> vals, file->ReadFloat(h.name));
  file->Release(h.name);
  if (int64_t(vals.size()) != h.numel()) return Error(file->path() + ": tensor '" + h.name + "' has the wrong size");
  if (!h.transpose) return vals;
  std::vector<float> rows(vals.size());
  HfToRows(h, vals.data(), rows.data());
  return rows;
}

Status ReadHfTensors(const std::vector<HfTensor>& map, const io::Checkpoint& ckpt, const std::string& dir, float* arena) {
  T81_RETURN_IF_ERROR(CheckHfTensors(map, ckpt, dir));
  for (const HfTensor& h : map) {
    const io::SafeTensorsFile* file = ckpt.FileOf(h.name);
    T81_ASSIGN_OR_RETURN(std::vector<float> vals, file->ReadFloat(h.name));
    file->Release(h.name);  // the file's pages: resident only while their tensor is read
    HfToRows(h, vals.data(), arena + h.first());
  }
  return OkStatus();
}

std::vector<NamedTensor> ExportHf(const std::vector<HfTensor>& map, const float* arena, bool grad_names) {
  std::vector<NamedTensor> out;
  out.reserve(map.size());
  for (const HfTensor& h : map) {
    NamedTensor n{grad_names && !h.grad_name.empty() ? h.grad_name : h.name, h.shape,
                  std::vector<float>(size_t(h.numel()))};
    if (arena) RowsToHf(h, arena + h.first(), n.values.data());
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace t81::models
