// t81 perplexity and t81 generate end to end on a tiny Llama with a tiny SentencePiece-style
// tokenizer: the one-line result, the JSON keys, text out as it is generated (prompt first),
// deterministic sampling, and bad input as one "t81: " line with a non-zero exit.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
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

// A random Llama of vocabulary 16 (the tokenizer uses ids 0-9) with the tokenizer beside it.
std::string MakeModel(const TempDir& d, int64_t vocab = 16) {
  const std::string dir = (d / "m");
  ExecResult r = Exec("init " + dir + " --arch llama --vocab " + std::to_string(vocab) +
                      " --n-embd 32 --n-layer 1 --n-head 2 --n-ff 64 --ctx 64 --seed 3");
  EXPECT_EQ(r.rc, 0) << r.out;
  std::ofstream(fs::path(dir) / "tokenizer.json") << kTinyTokenizer;
  return dir;
}

TEST(TextCli, Perplexity) {
  TempDir d("t81_pplcli");
  const std::string m = MakeModel(d);
  std::ofstream(d / "t.txt") << "ab ab a b ab\nab a ab b a ab ab ab a\n";
  ExecResult r = Exec("perplexity " + m + " --text " + (d / "t.txt") + " --ctx 8 --stride 4 --json-output " +
                      (d / "p.json"));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("PPL "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" over "), std::string::npos) << r.out;
  std::ifstream jf(d / "p.json");
  const nlohmann::json j = nlohmann::json::parse(jf);
  for (const char* k : {"model", "text", "ctx", "stride", "n_tokens", "nll", "ppl", "seconds"}) EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["ctx"], 8);
  EXPECT_EQ(j["stride"], 4);
  EXPECT_GT(j["ppl"].get<double>(), 1.0);
  // Every text token is scored once (the window starts with BOS: token 0 has context too).
  ExecResult ids = Exec("tokenize " + m + " --text " + (d / "t.txt"));
  int64_t n = 0;
  for (char c : ids.out) n += c == ' ';
  EXPECT_EQ(j["n_tokens"], n + 1) << ids.out;
  // Same numbers again (deterministic), and the folder/.jsonl forms read the same text.
  ExecResult again = Exec("perplexity " + m + " --text " + (d / "t.txt") + " --ctx 8 --stride 4");
  auto result = [](const std::string& out) {  // the "PPL x over n tokens" line (stderr has progress)
    const size_t at = out.find("\nPPL ") == std::string::npos ? out.find("PPL ") : out.find("\nPPL ") + 1;
    return at == std::string::npos ? std::string("none") : out.substr(at, out.find('\n', at) - at);
  };
  EXPECT_EQ(result(again.out), result(r.out));
  EXPECT_NE(result(r.out), "none") << r.out;
  std::ofstream(d / "t.jsonl") << "{\"text\": \"ab ab a b ab\\nab a ab b a ab ab ab a\\n\"}\n";
  ExecResult jl = Exec("perplexity " + m + " --text " + (d / "t.jsonl") + " --ctx 8 --stride 4");
  EXPECT_EQ(result(jl.out), result(r.out));
  // Bad input.
  r = Exec("perplexity " + m + " --text " + (d / "missing.txt"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("missing.txt"), std::string::npos) << r.out;
  r = Exec("perplexity " + m + " --text " + (d / "t.txt") + " --ctx 8 --stride 9");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("--stride"), std::string::npos) << r.out;
  r = Exec("perplexity " + m + " --text " + (d / "t.txt") + " --ctx 65");
  EXPECT_EQ(r.rc, 1);
  std::ofstream(d / "bad.jsonl") << "{\"text\": 3}\n";
  r = Exec("perplexity " + m + " --text " + (d / "bad.jsonl"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("line 1"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d / "bad.json"));
}

TEST(TextCli, Generate) {
  TempDir d("t81_gencli");
  const std::string m = MakeModel(d);
  ExecResult r = Exec("generate " + m + " --prompt 'ab a' -n 6");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out.rfind("ab a", 0), 0u) << r.out;  // the prompt first, then the new text
  EXPECT_GT(r.out.size(), 5u);
  ExecResult s1 = Exec("generate " + m + " --prompt 'ab a' -n 6 --temperature 1.2 --top-p 0.9 --seed 5");
  ExecResult s2 = Exec("generate " + m + " --prompt 'ab a' -n 6 --temperature 1.2 --top-p 0.9 --seed 5");
  ASSERT_EQ(s1.rc, 0) << s1.out;
  auto text = [](const std::string& out) { return out.substr(0, out.find("[generate]")); };  // stdout part
  EXPECT_EQ(text(s1.out), text(s2.out));
  r = Exec("generate " + m + " --prompt 'ab' -n 3");
  EXPECT_NE(r.out.find("tok/s"), std::string::npos) << r.out;  // timings on stderr
  r = Exec("generate " + m + " --prompt 'ab' --top-p 0");
  EXPECT_EQ(r.rc, 1) << r.out;
  // A tokenizer larger than the model's vocabulary is refused.
  TempDir d2("t81_gencli_small");
  const std::string small = MakeModel(d2, 8);
  r = Exec("generate " + small + " --prompt 'ab'");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("tokenizer.json"), std::string::npos) << r.out;
}

TEST(TextCli, BenchTokenize) {
  TempDir d("t81_tokbench");
  std::ofstream(d / "tokenizer.json") << kTinyTokenizer;
  std::ofstream(d / "t.txt") << "ab ab a\n\nb ab\n\n\nab a";
  ExecResult r = Exec("bench tokenize --tokenizer " + d.path().string() + " --text " + (d / "t.txt") +
                      " --skip-npm --repeats 2 --json-output " + (d / "b.json"));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("in 3 pieces"), std::string::npos) << r.out;
  std::ifstream jf(d / "b.json");
  const nlohmann::json j = nlohmann::json::parse(jf);
  EXPECT_EQ(j["bytes"], 7 + 4 + 5);  // the pieces ("\nab a" the last), blank-line separators left out
  EXPECT_GT(j["t81_mb_per_s"].get<double>(), 0.0);
  EXPECT_EQ(j["threads"], 1);
  r = Exec("bench tokenize --tokenizer " + d.path().string() + " --text " + (d / "none.txt") + " --skip-npm");
  EXPECT_EQ(r.rc, 1) << r.out;
}

}  // namespace
}  // namespace t81
