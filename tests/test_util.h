// Small helpers shared by the tests: fixture paths, whole-file reads, a per-test temp folder,
// parameter names for gtest.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace t81::testing {

inline std::string Fixture(const std::string& name) { return std::string(T81_TEST_DATA) + "/fixtures/" + name; }

inline std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh folder under the temp dir, named for the process and the running test; removed on
// destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : test)
      if (c == '/') c = '_';
    path_ = std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(getpid()) + "_" + test);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// gtest parameter names from strings: '-' and '/' become '_'.
inline std::string ParamName(std::string s) {
  for (char& c : s)
    if (c == '-' || c == '/') c = '_';
  return s;
}

}  // namespace t81::testing
