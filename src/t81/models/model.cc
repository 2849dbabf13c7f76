#include "t81/models/model.h"

#include "t81/base/file.h"
#include "t81/io/json_fields.h"
#include "t81/models/decoder.h"
#include "t81/models/vit.h"

namespace t81::models {

Status SaveHfFolder(const std::string& out_dir, const std::string& config_json, const std::vector<NamedTensor>& tensors) {
  io::SafeTensorsWriter w;
  w.SetMetadata("format", "pt");
  for (const NamedTensor& n : tensors) w.AddF32(n.name, n.shape, n.values.data());
  T81_RETURN_IF_ERROR(base::WriteFileAtomic(out_dir + "/config.json", config_json));
  return w.Write(out_dir + "/model.safetensors");
}

Result<std::string> ReadModelType(const std::string& dir) {
  const std::string path = dir + "/config.json";
  T81_ASSIGN_OR_RETURN(const nlohmann::json j, io::ReadJsonObject(path));
  return io::JsonFields(j, path).String("model_type");
}

int64_t ModelLayout::num_params() const {
  int64_t n = 0;
  for (const HfTensor& h : tensors) n += h.numel();
  return n;
}

Result<ModelLayout> ReadModelLayout(const std::string& dir) {
  T81_ASSIGN_OR_RETURN(const std::string type, ReadModelType(dir));
  ModelLayout m;
  if (type == "vit") {
    T81_ASSIGN_OR_RETURN(const VitConfig cfg, LoadVitConfig(dir + "/config.json"));
    m.arch = "vit";
    m.tensors = Vit::HfTensorList(cfg);
    return m;
  }
  T81_ASSIGN_OR_RETURN(const DecoderConfig cfg, LoadDecoderConfig(dir + "/config.json"));
  m.arch = ArchName(cfg.arch);
  m.tensors = DecoderLM::HfTensorList(cfg);
  return m;
}

Result<std::unique_ptr<Model>> LoadModel(const std::string& dir, bool keep_precision) {
  T81_ASSIGN_OR_RETURN(const std::string type, ReadModelType(dir));
  if (type == "vit") {
    T81_ASSIGN_OR_RETURN(std::unique_ptr<Vit> m, Vit::Load(dir));
    return std::unique_ptr<Model>(std::move(m));
  }
  T81_ASSIGN_OR_RETURN(std::unique_ptr<DecoderLM> m, DecoderLM::Load(dir, keep_precision));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace t81::models
