// t81 info / t81 forward end to end: the binary's output file matches the PyTorch golden file,
// and bad input gives one line on stderr and no output file.
#include <gtest/gtest.h>

#include "exec.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>
#include <algorithm>
#include <sys/wait.h>

#include "t81/io/safetensors.h"

namespace t81 {
namespace {

const std::string kFix = std::string(T81_TEST_DATA) + "/fixtures/";

using t81::testing::ExecResult;

// Runs the t81 binary with args.
ExecResult Exec(const std::string& args) { return t81::testing::ExecCommand(std::string(T81_BIN) + " " + args); }

double MaxRelNormErr(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += double(a[i] - b[i]) * (a[i] - b[i]);
    n += double(b[i]) * b[i];
  }
  return std::sqrt(d) / (std::sqrt(n) + 1e-30);
}

class ForwardCli : public ::testing::TestWithParam<std::string> {};

TEST_P(ForwardCli, OutputMatchesGolden) {
  const std::string dir = kFix + GetParam();
  const std::string out = ::testing::TempDir() + "/t81_fwd_" + GetParam() + ".safetensors";
  std::filesystem::remove(out);
  const ExecResult r = Exec("forward " + dir + " --inputs " + dir + "/golden.safetensors --out " + out +
                     " --grads --adamw-steps 5 --lr 1e-3");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto mine = io::SafeTensorsFile::Open(out);
  ASSERT_TRUE(mine.ok()) << mine.status().message();
  auto gold = io::SafeTensorsFile::Open(dir + "/golden.safetensors").value();
  int grads = 0;
  for (const auto& t : (*mine)->tensors()) {
    const auto a = (*mine)->ReadFloat(t.name).value();
    auto b = gold->ReadFloat(t.name);
    ASSERT_TRUE(b.ok()) << "golden has no " << t.name;
    ASSERT_EQ(a.size(), b->size()) << t.name;
    if (t.name.rfind("grad.", 0) == 0) {
      ++grads;
      double d = 0, nn = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        d += double(a[i] - (*b)[i]) * (a[i] - (*b)[i]);
        nn += double((*b)[i]) * (*b)[i];
      }
      EXPECT_LE(std::sqrt(d), 1e-3 * std::sqrt(nn) + 1e-7 * std::sqrt(double(a.size()))) << t.name;
    } else {
      EXPECT_LE(MaxRelNormErr(a, *b), 1e-4) << t.name;
    }
  }
  EXPECT_GT(grads, 10);
  std::filesystem::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ForwardCli, ::testing::Values("gpt2-tiny", "llama-tiny", "phi3-tiny", "vit-tiny"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s)
                             if (ch == '-') ch = '_';
                           return s;
                         });

TEST(ForwardCli, BadInputsOneLineNoOutput) {
  const std::string out = ::testing::TempDir() + "/t81_fwd_bad.safetensors";
  const std::string dir = kFix + "gpt2-tiny";
  for (const std::string& args : std::vector<std::string>{
           "forward " + dir + " --inputs /nonexistent.safetensors --out " + out,
           "forward /nonexistent_dir --inputs " + dir + "/golden.safetensors --out " + out,
           "forward " + dir + " --inputs " + dir + "/model.safetensors --out " + out,  // no input_ids
           "forward " + kFix + "vit-tiny --inputs " + dir + "/golden.safetensors --out " + out,  // ids for a ViT
           "forward " + dir + " --inputs " + dir + "/golden.safetensors --out " + out + " --adamw-steps -1",
           "info /nonexistent_dir",
       }) {
    std::filesystem::remove(out);
    const ExecResult r = Exec(args);
    EXPECT_NE(r.rc, 0) << args;
    EXPECT_EQ(r.out.rfind("t81: ", 0), 0u) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_FALSE(std::filesystem::exists(out)) << args;
  }
}

TEST(InfoCli, DescribesModelAndFile) {
  ExecResult r = Exec("info " + kFix + "llama-tiny");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("architecture llama"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model.layers.0.self_attn.k_proj.weight"), std::string::npos);
  r = Exec("info " + kFix + "vit-tiny/model.safetensors");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("vit.embeddings.cls_token"), std::string::npos);
}

}  // namespace
}  // namespace t81
