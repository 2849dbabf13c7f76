// Model ids in the local Hugging Face cache: HF_HUB_CACHE, then HF_HOME/hub; refs/main names the
// snapshot; existing paths pass through; absent ids are one-line errors naming what was searched.
#include "t81/io/hf_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "../test_util.h"

namespace t81::io {
namespace {

namespace fs = std::filesystem;

void MakeRepo(const fs::path& hub, const std::string& folder, const std::string& commit) {
  fs::create_directories(hub / folder / "refs");
  fs::create_directories(hub / folder / "snapshots" / commit);
  std::ofstream(hub / folder / "refs" / "main") << commit << "\n";
}

TEST(HfCache, ResolvesIdsLikeTransformersOffline) {
  t81::testing::TempDir d("t81_hfcache");
  const fs::path home = d.path() / "home";
  MakeRepo(home / "hub", "models--microsoft--Phi-3-mini-4k-instruct", "0a1b2c");
  MakeRepo(home / "hub", "models--gpt2", "ffee");
  fs::create_directories(home / "hub" / "models--gpt2" / "snapshots" / "older");  // not the one refs/main names
  unsetenv("HF_HUB_CACHE");
  setenv("HF_HOME", home.c_str(), 1);
  auto phi = ResolveModelPath("microsoft/Phi-3-mini-4k-instruct");
  ASSERT_TRUE(phi.ok()) << phi.status().message();
  EXPECT_EQ(phi.value(), (home / "hub/models--microsoft--Phi-3-mini-4k-instruct/snapshots/0a1b2c").string());
  auto g = ResolveModelPath("gpt2");
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g.value(), (home / "hub/models--gpt2/snapshots/ffee").string());
  // HF_HUB_CACHE wins over HF_HOME.
  const fs::path other = d.path() / "other";
  MakeRepo(other, "models--gpt2", "1234");
  setenv("HF_HUB_CACHE", other.c_str(), 1);
  EXPECT_EQ(ResolveModelPath("gpt2").value(), (other / "models--gpt2/snapshots/1234").string());
  // Absent: the error names the path searched and says it never downloads.
  auto missing = ResolveModelPath("meta-llama/Llama-2-7b");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find((other / "models--meta-llama--Llama-2-7b").string()), std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("never downloads"), std::string::npos);
  unsetenv("HF_HUB_CACHE");
  unsetenv("HF_HOME");
  // An existing path is itself; a path-like string that does not exist is not an id.
  EXPECT_EQ(ResolveModelPath(d.path().string()).value(), d.path().string());
  auto nopath = ResolveModelPath((d.path() / "nope").string());
  ASSERT_FALSE(nopath.ok());
  EXPECT_NE(nopath.status().message().find("no such file"), std::string::npos);
  EXPECT_FALSE(ResolveModelPath("a/b/c").ok());
  EXPECT_FALSE(ResolveModelPath("../x").ok());
}

}  // namespace
}  // namespace t81::io
