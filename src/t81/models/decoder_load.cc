// DecoderLM loaders: Hugging Face checkpoints (config.json + safetensors, sharded or not) and t81
// checkpoints (ConvertCheckpoint's model.t81.safetensors: ternary block linears as TQ blocks).
#include <cstring>

#include "t81/base/json_limits.h"
#include "t81/base/file.h"
#include "t81/base/memory.h"
#include "t81/io/safetensors.h"
#include "t81/models/convert.h"
#include "t81/models/decoder.h"
#include "t81/quant/q8_0.h"

namespace t81::models {

Result<std::unique_ptr<DecoderLM>> DecoderLM::FromConfig(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  T81_ASSIGN_OR_RETURN(DecoderConfig cfg, LoadDecoderConfig(cfg_path));
  std::unique_ptr<DecoderLM> m(new DecoderLM(cfg));
  T81_ASSIGN_OR_RETURN(m->config_json_, base::ReadFile(cfg_path, base::kMaxJsonBytes));
  m->Layout();
  return m;
}

Result<std::unique_ptr<DecoderLM>> DecoderLM::Load(const std::string& dir, bool keep_precision) {
  T81_ASSIGN_OR_RETURN(const DecoderConfig cfg, LoadDecoderConfig(dir + "/config.json"));
  T81_ASSIGN_OR_RETURN(io::Checkpoint ckpt, io::OpenCheckpoint(dir));
  const std::vector<HfTensor> map = HfTensorList(cfg);
  T81_RETURN_IF_ERROR(CheckHfTensors(map, ckpt, dir));
  // 16-bit in memory when asked and every block linear is stored in the same 16-bit type.
  bool half = keep_precision;
  io::DType half_type = io::DType::kF32;  // the 16-bit type, once seen
  for (const HfTensor& h : map) {
    if (!half || !h.linear) continue;
    const io::DType d = ckpt.FileOf(h.name)->Find(h.name)->dtype;
    half = (d == io::DType::kBF16 || d == io::DType::kF16) && (half_type == io::DType::kF32 || half_type == d);
    half_type = d;
  }
  {  // refuse before allocating if the model cannot fit: float32, or 2 bytes a 16-bit weight
    int64_t bytes = 0;
    for (const HfTensor& h : map) {
      const bool two = half && ckpt.FileOf(h.name)->Find(h.name)->dtype == half_type && h.shape.size() == 2;
      bytes += h.numel() * (two ? 2 : 4);
    }
    T81_RETURN_IF_ERROR(base::CheckFits(bytes, dir + ": the model (" + std::string(half ? "16-bit weights kept" : "as float32") + ")"));
  }
  T81_ASSIGN_OR_RETURN(std::unique_ptr<DecoderLM> m, FromConfig(dir));
  if (half) {
    T81_RETURN_IF_ERROR(m->LoadHalf(ckpt, dir, half_type == io::DType::kF16 ? kernels::HalfType::kF16 : kernels::HalfType::kBF16));
  } else {
    T81_RETURN_IF_ERROR(ReadHfTensors(m->hf_, ckpt, dir, m->arena_.params()));
  }
  return m;
}

Status DecoderLM::LoadHalf(const io::Checkpoint& ckpt, const std::string& dir, kernels::HalfType type) {
  const DecoderConfig& c = cfg_;
  const io::DType dtype = type == kernels::HalfType::kF16 ? io::DType::kF16 : io::DType::kBF16;
  const size_t n_lin = size_t(c.L) * nn::kNumBlockLinears;
  std::vector<kernels::HalfWeights> lin(n_lin);
  std::vector<std::vector<uint16_t>> parts(n_lin);  // a fused matrix while its parts arrive
  std::vector<int64_t> filled(n_lin, 0);
  auto bits = [](const io::SafeTensorsFile* f, const io::TensorInfo* t, int64_t i) {
    uint16_t v;
    std::memcpy(&v, f->data(*t) + 2 * i, 2);  // any alignment
    return v;
  };
  for (const HfTensor& h : hf_) {
    const io::SafeTensorsFile* file = ckpt.FileOf(h.name);
    const io::TensorInfo* t = file->Find(h.name);
    const bool two_d = h.shape.size() == 2 && t->dtype == dtype;
    // The file's rows when they can be repacked in place (2-byte aligned, HF layout = (out, in)),
    // their pages dropped every 1024 rows as the repack goes; else null (a copy is assembled).
    const uint8_t* src = file->data(*t);
    const bool direct = reinterpret_cast<uintptr_t>(src) % 2 == 0 && !h.transpose;
    const uint64_t row_bytes = uint64_t(h.cols) * 2;
    const kernels::RowsDoneFn drop = [file, t, row_bytes](int64_t r0, int64_t r1) {
      file->Release(*t, uint64_t(r0) * row_bytes, uint64_t(r1) * row_bytes);
    };
    if (h.linear && two_d) {  // rows [row0, row0 + nrows) of linear (layer, k), as (out, in)
      const size_t idx = size_t(h.layer) * nn::kNumBlockLinears + size_t(*h.linear);
      const int64_t rows = nn::LinearRows(block_, *h.linear), cols = h.cols;
      if (direct && h.nrows == rows) {  // the whole matrix in one tensor (Phi-3's fused ones too)
        lin[idx] = kernels::RepackHalf(reinterpret_cast<const uint16_t*>(src), rows, cols, type, drop);
        filled[idx] = rows;
        continue;
      }
      if (parts[idx].empty()) parts[idx].resize(size_t(rows * cols));
      uint16_t* dst = parts[idx].data() + h.row0 * cols;
      for (int64_t r = 0; r < h.nrows; ++r)
        for (int64_t j = 0; j < cols; ++j) dst[r * cols + j] = bits(file, t, h.transpose ? j * h.nrows + r : r * cols + j);
      file->Release(h.name);
      if ((filled[idx] += h.nrows) == rows) {
        lin[idx] = kernels::RepackHalf(parts[idx].data(), rows, cols, type);
        parts[idx] = {};
      }
      continue;
    }
    const bool embedding = h.offset == off_wte_, head = !c.tied && h.offset == off_head_;
    if ((embedding || head) && two_d) {  // (V, C) rows as stored
      std::vector<uint16_t> copy;  // only if the file's data is not 2-byte aligned
      if (!direct) {
        copy.resize(size_t(h.numel()));
        for (int64_t i = 0; i < h.numel(); ++i) copy[size_t(i)] = bits(file, t, i);
      }
      FileMatrix& fm = head || c.tied ? head_file_ : embd_file_;
      fm.half = std::make_unique<kernels::HalfWeights>(kernels::RepackHalf(
          direct ? reinterpret_cast<const uint16_t*>(src) : copy.data(), h.nrows, h.cols, type, direct ? drop : nullptr));
      file->Release(h.name);
      (embedding ? wte_src_ : head_src_) = &fm;
      continue;
    }
    T81_ASSIGN_OR_RETURN(std::vector<float> vals, file->ReadFloat(h.name));
    file->Release(h.name);
    HfToRows(h, vals.data(), P(h.first()));
  }
  for (size_t i = 0; i < n_lin; ++i)
    if (filled[i] != lin[i].n || lin[i].n == 0) return Error(dir + ": a block linear is only partly 16-bit");
  lin_.UseFileHalf(std::move(lin));
  return OkStatus();
}

Result<std::unique_ptr<DecoderLM>> DecoderLM::LoadT81(const std::string& dir) {
  T81_ASSIGN_OR_RETURN(std::unique_ptr<DecoderLM> m, FromConfig(dir));
  const DecoderConfig& c = m->cfg_;
  const std::string path = dir + "/" + kT81CheckpointFile;
  T81_ASSIGN_OR_RETURN(auto f, io::SafeTensorsFile::Open(path));
  T81_ASSIGN_OR_RETURN(const T81Meta meta, ReadT81Meta(*f));
  nn::FileTernary tern(m->block_, c.L);
  int64_t linear_tensors = 0;
  for (const HfTensor& h : m->hf_) {
    linear_tensors += h.linear.has_value();
    const io::TensorInfo* t = f->Find(h.name);
    if (!t) return Error(path + ": missing tensor '" + h.name + "'");
    if (t->dtype == io::DType::kU8 && meta.IsQ8(h.name)) {
      const int64_t n = h.numel();
      if (h.transpose || h.cols % quant::kQ8Block || t->end - t->begin != uint64_t(n / quant::kQ8Block * quant::kQ8BlockBytes))
        return Error(path + ": Q8_0 tensor '" + h.name + "' has the wrong byte size");
      quant::DequantizeQ8_0(f->data(*t), n, m->P(h.first()));
      continue;
    }
    if (t->dtype == io::DType::kU8) {
      if (!h.linear) return Error(path + ": tensor '" + h.name + "' is stored ternary but is not a block linear");
      const int64_t row_bytes = tern.RowBytes(*h.linear, meta.format);
      if (t->shape != std::vector<int64_t>{h.nrows, row_bytes})
        return Error(path + ": ternary tensor '" + h.name + "' has the wrong byte shape");
      uint8_t* dst = tern.Part(h.layer, *h.linear, meta.format, h.row0);
      std::memcpy(dst, f->data(*t), size_t(h.nrows * row_bytes));
      continue;
    }
    // Float tensors keep the HF layout (GPT-2 Conv1D (in, out) included).
    if (t->numel() != h.numel()) return Error(path + ": tensor '" + h.name + "' has the wrong size");
    T81_ASSIGN_OR_RETURN(std::vector<float> vals, f->ReadFloat(h.name));
    HfToRows(h, vals.data(), m->P(h.first()));
  }
  if (tern.parts() > 0 && (tern.parts() != linear_tensors || !tern.complete())) return Error(path + ": only some block linears are ternary");
  if (tern.parts() > 0) m->lin_.UseFileTernary(tern.Take());
  return m;
}

}  // namespace t81::models
