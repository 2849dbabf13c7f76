#include "t81/io/hf_cache.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "t81/base/file.h"

namespace t81::io {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : "";
}

std::string HubCache() {
  if (std::string c = Env("HF_HUB_CACHE"); !c.empty()) return c;
  if (std::string h = Env("HF_HOME"); !h.empty()) return h + "/hub";
  if (std::string x = Env("XDG_CACHE_HOME"); !x.empty()) return x + "/huggingface/hub";
  return Env("HOME") + "/.cache/huggingface/hub";
}

// ORG/NAME or NAME: letters, digits, '-', '_', '.', at most one '/', not a path.
bool LooksLikeId(const std::string& s) {
  if (s.empty() || s.front() == '/' || s.front() == '.' || s.back() == '/') return false;
  int slashes = 0;
  for (char c : s) {
    if (c == '/') ++slashes;
    else if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return slashes <= 1 && s.find("..") == std::string::npos;
}

}  // namespace

Result<std::string> ResolveModelPath(const std::string& p) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(p, ec)) return p;
  if (!LooksLikeId(p)) return Error(p + ": no such file or folder");
  std::string folder = "models--";
  for (char c : p) folder += c == '/' ? std::string("--") : std::string(1, c);
  const std::string repo = HubCache() + "/" + folder;
  const std::string ref = repo + "/refs/main";
  std::string commit;
  if (fs::is_regular_file(ref, ec)) {
    auto r = base::ReadFile(ref);
    if (r.ok()) commit = r.value();
    while (!commit.empty() && (commit.back() == '\n' || commit.back() == '\r' || commit.back() == ' ')) commit.pop_back();
  }
  const std::string snap = repo + "/snapshots/" + commit;
  if (!commit.empty() && commit.find('/') == std::string::npos && fs::is_directory(snap, ec)) return snap;
  return Error(p + ": not a file or folder, and not in the local Hugging Face cache (looked for " +
               (commit.empty() ? ref : snap) + "; set HF_HUB_CACHE or HF_HOME; t81 never downloads)");
}

}  // namespace t81::io
