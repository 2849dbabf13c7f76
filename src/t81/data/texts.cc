#include "t81/data/texts.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "t81/base/json_limits.h"
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
    T81_RETURN_IF_ERROR(base::CheckJsonLimits(s, path + ": line " + std::to_string(line)));
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

std::vector<std::string> SplitLines(const std::string& t) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < t.size()) {
    size_t end = t.find('\n', pos);
    if (end == std::string::npos) end = t.size();
    std::string line = t.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
    pos = end + 1;
  }
  return out;
}

namespace {

// s as a whole integer (optionally negative); false if it is not one.
bool ParseRow(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = s[0] == '-' ? -v : v;
  return true;
}

}  // namespace

Result<std::vector<std::string>> ReadLmSplit(const std::string& dataset, const std::string& split) {
  namespace fs = std::filesystem;
  if (split != "train" && split != "validation" && split != "test")
    return Error(dataset + ": unknown split '" + split + "' (train, validation, test)");
  if (dataset == "sotu") return ReadCorpus("sotu", split == "train" ? "train" : "validation");
  std::error_code ec;
  if (fs::is_regular_file(dataset + "/wiki.test.raw", ec)) {
    const std::string file = dataset + (split == "train" ? "/wiki.train.raw" : split == "validation" ? "/wiki.valid.raw" : "/wiki.test.raw");
    T81_ASSIGN_OR_RETURN(const std::string t, base::ReadFile(file));
    std::vector<std::string> rows = SplitLines(t);
    for (std::string& r : rows) r += '\n';  // HF's wikitext rows keep their line end
    if (rows.empty()) return Error(file + ": empty");
    return rows;
  }
  if (!fs::exists(dataset, ec))
    return Error("unknown dataset '" + dataset + "' (sotu, a wikitext-2-raw-v1 folder, or a text file / folder / .jsonl)");
  T81_ASSIGN_OR_RETURN(std::vector<std::string> texts, ReadTexts(dataset));
  if (texts.size() == 1) texts = SplitLines(texts[0]);
  if (texts.size() < 2) return Error(dataset + ": needs at least two texts (or lines) to split into train and validation");
  const size_t n_val = std::max<size_t>(1, texts.size() / 10);
  const size_t cut = texts.size() - n_val;
  if (split == "train") return std::vector<std::string>(texts.begin(), texts.begin() + long(cut));
  return std::vector<std::string>(texts.begin() + long(cut), texts.end());
}

Result<std::vector<std::string>> ReadLmSplitExpr(const std::string& dataset, const std::string& expr) {
  const size_t open = expr.find('[');
  const std::string name = expr.substr(0, open);
  T81_ASSIGN_OR_RETURN(std::vector<std::string> rows, ReadLmSplit(dataset, name));
  if (open == std::string::npos) return rows;
  const auto bad = [&] { return Error("bad split expression '" + expr + "' (e.g. train, train[:20], train[10:50], train[:1%])"); };
  if (expr.back() != ']') return bad();
  const std::string inner = expr.substr(open + 1, expr.size() - open - 2);
  const size_t colon = inner.find(':');
  if (colon == std::string::npos) return bad();
  const int64_t n = int64_t(rows.size());
  // One bound: empty (default), a row number, or a percentage; negative counts from the end.
  auto bound = [&](std::string s, int64_t dflt, int64_t* out) {
    if (s.empty()) {
      *out = dflt;
      return true;
    }
    const bool pct = s.back() == '%';
    if (pct) s.pop_back();
    int64_t v = 0;
    if (!ParseRow(s, &v)) return false;
    if (pct) {
      if (v < -100 || v > 100) return false;
      v = int64_t(std::llround(double(v) * double(n) / 100.0));
    }
    if (v < 0) v += n;
    *out = std::clamp<int64_t>(v, 0, n);
    return true;
  };
  int64_t a = 0, b = 0;
  if (!bound(inner.substr(0, colon), 0, &a) || !bound(inner.substr(colon + 1), n, &b)) return bad();
  if (a >= b) return Error("split expression '" + expr + "' selects no rows of " + std::to_string(n));
  return std::vector<std::string>(rows.begin() + a, rows.begin() + b);
}

}  // namespace t81::data
