#include "t81/io/json_fields.h"

#include "t81/base/file.h"
#include "t81/base/json_limits.h"

namespace t81::io {

using Json = nlohmann::json;

Result<Json> ReadJsonObject(const std::string& path) {
  T81_ASSIGN_OR_RETURN(std::string text, base::ReadFile(path, base::kMaxJsonBytes));
  T81_RETURN_IF_ERROR(base::CheckJsonLimits(text, path));
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(path + ": not a JSON object");
  return j;
}

bool JsonFields::Has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

Result<int64_t> JsonFields::PositiveInt(const char* key) const {
  if (!Has(key)) return Error(path_ + ": missing field '" + key + "'");
  const Json& v = j_[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0)
    return Error(path_ + ": field '" + key + "' must be a positive integer");
  if (v.get<int64_t>() > kMaxSize)
    return Error(path_ + ": field '" + key + "' is " + std::to_string(v.get<int64_t>()) + ", more than t81's limit of " +
                 std::to_string(kMaxSize));
  return v.get<int64_t>();
}

Result<int64_t> JsonFields::PositiveInt(const char* key, int64_t dflt) const {
  if (!Has(key)) return dflt;
  return PositiveInt(key);
}

Result<double> JsonFields::Number(const char* key, double dflt) const {
  if (!Has(key)) return dflt;
  if (!j_[key].is_number()) return Error(path_ + ": field '" + key + "' must be a number");
  return j_[key].get<double>();
}

Result<bool> JsonFields::Bool(const char* key, bool dflt) const {
  if (!Has(key)) return dflt;
  if (!j_[key].is_boolean()) return Error(path_ + ": field '" + key + "' must be true or false");
  return j_[key].get<bool>();
}

Result<std::string> JsonFields::String(const char* key, const std::string& dflt) const {
  if (!Has(key)) return dflt;
  return String(key);
}

Result<std::string> JsonFields::String(const char* key) const {
  if (!Has(key)) return Error(path_ + ": missing field '" + key + "'");
  if (!j_[key].is_string()) return Error(path_ + ": field '" + key + "' must be a string");
  return j_[key].get<std::string>();
}

Result<const Json*> JsonFields::Object(const char* key) const {
  if (!Has(key)) return static_cast<const Json*>(nullptr);
  if (!j_[key].is_object()) return Error(path_ + ": field '" + key + "' must be an object");
  return &j_[key];
}

}  // namespace t81::io
