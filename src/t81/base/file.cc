#include "t81/base/file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace t81::base {

Status WriteFileAtomic(const std::string& path, const std::string& content) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), ec);
    if (ec)
      return Error(path + ": cannot create folder " + p.parent_path().string() + " (" + ec.message() + ")");
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Error(path + ": cannot write " + tmp);
    f.write(content.data(), std::streamsize(content.size()));
    f.flush();
    if (!f) {
      f.close();
      fs::remove(tmp, ec);
      return Error(path + ": write failed");
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Error(path + ": cannot rename " + tmp + " into place");
  }
  return OkStatus();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace t81::base
