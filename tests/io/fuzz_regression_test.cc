// Replays the fuzz harnesses' code paths (fuzz/targets.h) on the inputs kept in
// tests/data/fuzz_regressions/<harness>/ (each once crashed or hit UB in a reader: now it must be
// an error Status) and on the seed corpora in fuzz/corpus/<harness>/ (no crash; most accepted).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fuzz/targets.h"
#include "../test_util.h"

namespace t81 {
namespace {

namespace fs = std::filesystem;
using FeedFn = Status (*)(const uint8_t*, size_t);

const std::map<std::string, FeedFn>& Harnesses() {
  static const std::map<std::string, FeedFn> m = {
      {"gguf", fuzz::FeedGguf},           {"safetensors", fuzz::FeedSafetensors},
      {"config", fuzz::FeedConfig},       {"idx", fuzz::FeedIdx},
      {"cifar", fuzz::FeedCifar},         {"image_processor", fuzz::FeedImageProcessor},
      {"tokenizer_json", fuzz::FeedTokenizerJson}, {"tokenizer_bpe", fuzz::FeedTokenizerBpe},
  };
  return m;
}

// The files of dir, sorted (none when dir is missing).
std::vector<fs::path> FilesIn(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

Status Feed(const std::string& harness, const fs::path& file) {
  const std::string bytes = testing::ReadText(file);
  return Harnesses().at(harness)(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

class FuzzRegression : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzRegression, KeptInputsAreErrors) {
  const fs::path dir = fs::path(T81_TEST_DATA) / "fuzz_regressions" / GetParam();
  for (const fs::path& f : FilesIn(dir)) {
    SCOPED_TRACE(f.string());
    const Status s = Feed(GetParam(), f);
    EXPECT_FALSE(s.ok()) << "accepted";
    // One line, naming the file at fault (or the reader's own name for in-memory IDX parsing).
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
    EXPECT_FALSE(s.message().empty());
  }
}

TEST_P(FuzzRegression, SeedsRunAndMostAreAccepted) {
  const std::vector<fs::path> seeds = FilesIn(fs::path(T81_FUZZ_CORPUS) / GetParam());
  ASSERT_FALSE(seeds.empty()) << "no seeds in fuzz/corpus/" << GetParam() << " (python3 fuzz/make_seeds.py)";
  size_t ok = 0;
  for (const fs::path& f : seeds) {
    const Status s = Feed(GetParam(), f);
    if (s.ok()) ++ok;
    else std::cout << "  seed " << f.filename().string() << ": " << s.message() << "\n";
  }
  EXPECT_GE(2 * ok, seeds.size()) << "most seeds of " << GetParam() << " should be valid inputs";
}

INSTANTIATE_TEST_SUITE_P(Harnesses, FuzzRegression,
                         ::testing::Values("gguf", "safetensors", "config", "idx", "cifar", "image_processor",
                                           "tokenizer_json", "tokenizer_bpe"),
                         [](const auto& info) { return info.param; });

TEST(FuzzTargets, CutPartsSplitsAtTheSeparator) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(fuzz::CutParts("a\n\n\nb\n\n\nc\n\n\nd", 3), (V{"a", "b", "c\n\n\nd"}));
  EXPECT_EQ(fuzz::CutParts("abc", 2), (V{"abc"}));
  EXPECT_EQ(fuzz::CutParts("", 2), (V{""}));
  EXPECT_EQ(fuzz::CutParts("\n\n\n", 2), (V{"", ""}));
}

}  // namespace
}  // namespace t81
