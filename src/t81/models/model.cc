#include "t81/models/model.h"

#include "t81/io/json_fields.h"
#include "t81/models/decoder.h"
#include "t81/models/vit.h"

namespace t81::models {

Result<std::string> ReadModelType(const std::string& dir) {
  const std::string path = dir + "/config.json";
  T81_ASSIGN_OR_RETURN(const nlohmann::json j, io::ReadJsonObject(path));
  return io::JsonFields(j, path).String("model_type");
}

Result<std::unique_ptr<Model>> LoadModel(const std::string& dir) {
  T81_ASSIGN_OR_RETURN(const std::string type, ReadModelType(dir));
  if (type == "vit") {
    T81_ASSIGN_OR_RETURN(std::unique_ptr<Vit> m, Vit::Load(dir));
    return std::unique_ptr<Model>(std::move(m));
  }
  T81_ASSIGN_OR_RETURN(std::unique_ptr<DecoderLM> m, DecoderLM::Load(dir));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace t81::models
