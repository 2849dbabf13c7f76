// Typed, non-throwing reads of JSON files and their fields (config.json and friends): a missing or
// null field takes its default, a field of the wrong type is an error naming the file and field.
// Nothing here throws, so a malformed file from outside never aborts the program.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "t81/base/status.h"

namespace t81::io {

// The file at path parsed as a JSON object.
Result<nlohmann::json> ReadJsonObject(const std::string& path);

class JsonFields {
 public:
  // j must outlive this; path names the file in errors.
  JsonFields(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  bool Has(const char* key) const;  // present and not null

  // A size: an integer in [1, kMaxSize] (larger ones would only size impossible allocations).
  static constexpr int64_t kMaxSize = int64_t(1) << 24;
  Result<int64_t> PositiveInt(const char* key) const;  // required
  Result<int64_t> PositiveInt(const char* key, int64_t dflt) const;
  Result<double> Number(const char* key, double dflt) const;
  Result<bool> Bool(const char* key, bool dflt) const;
  Result<std::string> String(const char* key, const std::string& dflt) const;
  Result<std::string> String(const char* key) const;  // required
  // A nested object (error if present but not an object); null if absent.
  Result<const nlohmann::json*> Object(const char* key) const;

 private:
  const nlohmann::json& j_;
  std::string path_;
};

}  // namespace t81::io
