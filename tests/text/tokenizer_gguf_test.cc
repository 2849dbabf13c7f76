// Tokenizers through GGUF: each npm reference tokenizer (GPT-2, Mistral, Llama 3) written as
// tokenizer.ggml.* keys, read back with Tokenizer::FromGguf, gives the same ids as the original on
// every golden text (with and without special tokens) and decodes them the same; the checker
// accepts the file and rejects one written for another vocabulary size; too small a model is a
// one-line error. Skips without scripts/text/install.sh.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "t81/io/gguf.h"
#include "t81/text/tokenizer.h"
#include "../test_util.h"

namespace t81::text {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const Json& Golden() {
  static const Json j = Json::parse(t81::testing::ReadText(T81_TEXT_GOLDEN));
  return j;
}

fs::path NpmPath(const std::string& name) {
  for (const Json& t : Golden()["tokenizers"])
    if (t["name"] == name) return fs::path(T81_NPM_TEXT_DIR) / t["path"].get<std::string>();
  return {};
}

class TokenizerGguf : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerGguf, SameIdsAsTheOriginal) {
  const fs::path p = NpmPath(GetParam());
  if (p.empty() || !fs::exists(p)) GTEST_SKIP() << p << " not installed: run scripts/text/install.sh";
  auto orig = Tokenizer::Load(p);
  ASSERT_TRUE(orig.ok()) << orig.status().message();
  const int64_t V = orig->vocab_size() + 3;  // three [PAD<i>] rows
  t81::testing::TempDir dir("t81_tok_gguf");
  const std::string file = dir / "tok.gguf";
  io::GgufWriter w;
  w.SetString("general.architecture", "llama");
  ASSERT_TRUE(WriteGgufTokenizer(*orig, V, &w).ok());
  ASSERT_TRUE(w.Write(file).ok());
  auto f = io::GgufFile::Open(file);
  ASSERT_TRUE(f.ok()) << f.status().message();
  const Status check = CheckGgufTokenizer(*orig, V, **f);
  EXPECT_TRUE(check.ok()) << check.message();
  EXPECT_FALSE(CheckGgufTokenizer(*orig, V + 1, **f).ok());

  auto back = Tokenizer::FromGguf(**f);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->kind(), orig->kind());
  EXPECT_EQ(back->vocab_size(), V);
  EXPECT_EQ(back->bos_id(), orig->bos_id());
  EXPECT_EQ(back->eos_id(), orig->eos_id());
  EXPECT_EQ(back->unk_id(), orig->unk_id());
  EXPECT_EQ(back->prefix_ids(), orig->prefix_ids());
  EXPECT_EQ(back->suffix_ids(), orig->suffix_ids());
  int compared = 0;
  for (const Json& t : Golden()["texts"]) {
    const std::string text = t["text"].get<std::string>(), name = t["name"].get<std::string>();
    for (bool special : {false, true}) {
      auto want = orig->Encode(text, special);
      auto got = back->Encode(text, special);
      ASSERT_TRUE(want.ok() && got.ok()) << name;
      EXPECT_EQ(*got, *want) << GetParam() << " text '" << name << "' special=" << special;
      ++compared;
    }
    auto ids = orig->Encode(text, false);
    auto d0 = orig->Decode(*ids), d1 = back->Decode(*ids);
    ASSERT_TRUE(d0.ok() && d1.ok()) << name;
    EXPECT_EQ(*d1, *d0) << GetParam() << " decode of '" << name << "'";
  }
  EXPECT_GT(compared, 60);

  // Through the file path too (what `t81 tokenize MODEL.gguf` uses).
  auto via_load = Tokenizer::Load(file);
  ASSERT_TRUE(via_load.ok()) << via_load.status().message();
  EXPECT_EQ(via_load->Encode("Hello world", false).value(), orig->Encode("Hello world", false).value());
}

INSTANTIATE_TEST_SUITE_P(Npm, TokenizerGguf, ::testing::Values("gpt2", "mistral", "llama3"),
                         [](const auto& info) { return info.param; });

TEST(GgufTokenizer, ModelSmallerThanVocabularyIsAnError) {
  const fs::path p = NpmPath("gpt2");
  if (p.empty() || !fs::exists(p)) GTEST_SKIP() << p << " not installed: run scripts/text/install.sh";
  auto t = Tokenizer::Load(p);
  ASSERT_TRUE(t.ok());
  io::GgufWriter w;
  const Status s = WriteGgufTokenizer(*t, 1000, &w);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(t->path()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("more than the model's 1000"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
}

TEST(GgufTokenizer, FileWithoutTokenizerIsAnError) {
  t81::testing::TempDir dir("t81_tok_gguf");
  io::GgufWriter w;
  w.SetString("general.architecture", "llama");
  ASSERT_TRUE(w.Write(dir / "x.gguf").ok());
  auto t = Tokenizer::Load(dir / "x.gguf");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("tokenizer.ggml.model"), std::string::npos) << t.status().message();
}

}  // namespace
}  // namespace t81::text
