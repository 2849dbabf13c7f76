// DecoderLM loaders: Hugging Face checkpoints (config.json + safetensors, sharded or not) and t81
// checkpoints (ConvertCheckpoint's model.t81.safetensors: ternary block linears as TQ blocks).
#include <cstring>

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
  T81_ASSIGN_OR_RETURN(m->config_json_, base::ReadFile(cfg_path));
  m->Layout();
  return m;
}

Result<std::unique_ptr<DecoderLM>> DecoderLM::Load(const std::string& dir) {
  {  // the whole model becomes float32 in memory: refuse before allocating if it cannot fit
    T81_ASSIGN_OR_RETURN(const DecoderConfig cfg, LoadDecoderConfig(dir + "/config.json"));
    int64_t params = 0;
    for (const HfTensor& h : HfTensorList(cfg)) params += h.numel();
    T81_RETURN_IF_ERROR(base::CheckFits(4 * params, dir + ": the model as float32 (" + std::to_string(params) +
                                                        " parameters)"));
  }
  T81_ASSIGN_OR_RETURN(std::unique_ptr<DecoderLM> m, FromConfig(dir));
  T81_ASSIGN_OR_RETURN(io::Checkpoint ckpt, io::OpenCheckpoint(dir));
  T81_RETURN_IF_ERROR(ReadHfTensors(m->hf_, ckpt, dir, m->arena_.params()));
  return m;
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
