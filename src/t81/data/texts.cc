#include "t81/data/texts.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "t81/base/file.h"

namespace t81::data {

Result<std::vector<std::string>> ReadTexts(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> texts;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path().string());
    if (ec) return Error(path + ": cannot list (" + ec.message() + ")");
    std::sort(files.begin(), files.end());
    if (files.empty()) return Error(path + ": no .txt files in the folder");
    for (const std::string& f : files) {
      T81_ASSIGN_OR_RETURN(std::string t, base::ReadFile(f));
      texts.push_back(std::move(t));
    }
    return texts;
  }
  if (!fs::is_regular_file(path, ec)) return Error(path + ": file not found");
  T81_ASSIGN_OR_RETURN(std::string all, base::ReadFile(path));
  if (fs::path(path).extension() != ".jsonl") {
    texts.push_back(std::move(all));
    return texts;
  }
  size_t pos = 0;
  for (int64_t line = 1; pos < all.size(); ++line) {
    size_t end = all.find('\n', pos);
    if (end == std::string::npos) end = all.size();
    const std::string_view s(all.data() + pos, end - pos);
    pos = end + 1;
    if (s.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const nlohmann::json j = nlohmann::json::parse(s, nullptr, false, false);
    if (j.is_discarded() || !j.is_object()) return Error(path + ": line " + std::to_string(line) + " is not a JSON object");
    auto it = j.find("text");
    if (it == j.end() || !it->is_string()) return Error(path + ": line " + std::to_string(line) + " has no \"text\" string");
    texts.push_back(it->get<std::string>());
  }
  if (texts.empty()) return Error(path + ": no texts");
  return texts;
}

Result<std::vector<std::string>> ReadCorpus(const std::string& name, const std::string& split) {
  namespace fs = std::filesystem;
  if (name != "sotu") return Error("unknown corpus '" + name + "' (known: sotu)");
  if (split != "train" && split != "validation") return Error("corpus sotu: unknown split '" + split + "' (train, validation)");
  const char* env = std::getenv("T81_SOTU_DIR");
  const std::string dir = env && *env ? env : T81_SOTU_DIR;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Error("corpus sotu: " + dir + " not found (run scripts/text/install.sh, or set T81_SOTU_DIR)");
  std::vector<std::pair<std::string, std::string>> files;  // (name, path): names start with the year
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (e.path().extension() != ".txt" || n.size() < 5 || n[4] != '_') continue;
    const int year = std::atoi(n.substr(0, 4).c_str());
    if (year < 1790) continue;
    if ((split == "validation") == (year >= 2001)) files.push_back({n, e.path().string()});
  }
  if (ec) return Error(dir + ": cannot list (" + ec.message() + ")");
  std::sort(files.begin(), files.end());
  if (files.empty()) return Error("corpus sotu: no addresses for split '" + split + "' in " + dir);
  std::vector<std::string> texts;
  for (const auto& [n, p] : files) {
    T81_ASSIGN_OR_RETURN(std::string t, base::ReadFile(p));
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    if (!t.empty()) texts.push_back(std::move(t));
  }
  return texts;
}

}  // namespace t81::data
