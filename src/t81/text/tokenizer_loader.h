// Internal to src/t81/text: the loader that turns Hugging Face tokenizer files into a
// Tokenizer::Impl. Reading the files and their pipeline steps is tokenizer_load.cc; checking the
// whole and assembling the id tables, special ids and matchers is Loader::Finish in
// tokenizer_assemble.cc.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "t81/base/status.h"
#include "t81/text/tokenizer_impl.h"

namespace t81::text::load {

using Json = nlohmann::json;

inline constexpr int64_t kMaxVocab = 1 << 24;

// s quoted for a one-line error: control bytes escaped, long strings cut (at a character).
std::string Quote(std::string_view s);

class Loader {
 public:
  explicit Loader(Tokenizer::Impl* t) : t_(t) {}

  Status ReadTokenizerJson(const std::string& path);
  Status ReadTokenizerJsonObject(const Json& j, const std::string& path);  // path: for messages
  Status ReadVocabMerges(const std::string& vocab_path, const std::string& merges_path);
  Status ReadConfigs(const std::filesystem::path& dir);
  Status Finish();

 private:
  Status ReadVocabObject(const Json& v, const std::string& where);
  Status ReadAddedToken(const Json& a, int32_t id, const std::string& where);
  Status ReadNormalizer(const Json& n, const std::string& where);
  Status ReadPreTokenizer(const Json& p, const std::string& where);
  Status ReadDecoder(const Json& d, const std::string& where);
  Status ReadPostProcessor(const Json& p, const std::string& where);
  std::string MergeWhere(size_t i) const {
    return merge_lines_.empty() ? merges_where_ + "[" + std::to_string(i) + "]"
                                : merges_where_ + ": line " + std::to_string(merge_lines_[i]);
  }

  Tokenizer::Impl* t_;
  bool from_tokenizer_json_ = false;
  std::vector<std::pair<std::string, int32_t>> vocab_;
  std::string vocab_where_;
  std::vector<std::pair<std::string, std::string>> merges_;
  std::string merges_where_;
  std::vector<int32_t> merge_lines_;  // merges.txt: the line of each merge
  std::vector<std::string> added_where_;
  std::optional<std::string> model_unk_;
  std::string model_where_;
  bool has_post_ids_ = false;
  std::vector<std::pair<int32_t, std::string>> post_prefix_, post_suffix_;  // (id, where)
  // From tokenizer_config.json / config.json.
  std::string cfg_path_, cfgj_path_;
  std::optional<std::string> cfg_bos_, cfg_eos_, cfg_unk_, cfg_pad_;
  std::optional<bool> cfg_add_bos_, cfg_add_eos_;
  std::optional<int32_t> cfgj_bos_, cfgj_eos_, cfgj_pad_;
};

}  // namespace t81::text::load
