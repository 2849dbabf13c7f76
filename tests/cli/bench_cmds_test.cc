// t81 bench gemm / bench train / init / convert / gguf end to end on small shapes: outputs carry
// the documented keys and checks, bad flags give one line and no output file.
#include <gtest/gtest.h>

#include "exec.h"
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace t81 {
namespace {

using t81::testing::ExecResult;

// Runs the t81 binary with args.
ExecResult Exec(const std::string& args) { return t81::testing::ExecCommand(std::string(T81_BIN) + " " + args); }

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::json::parse(ss.str(), nullptr, false);
}

TEST(BenchGemm, ChecksThenReportsEveryRow) {
  const std::string json = ::testing::TempDir() + "/t81_gemm.json";
  std::filesystem::remove(json);
  const ExecResult r = Exec("bench gemm --m 64 --n 48 --k 300 --gemv-n 64 --gemv-k 512 --repeats 3 --threads 1 --json-output " + json);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("gemm_ternary OK (64, 48)"), std::string::npos) << r.out;
  const auto j = ReadJson(json);
  ASSERT_FALSE(j.is_discarded());
  for (const char* k : {"gemm_speedup_vs_sgemm", "gemv_speedup_vs_sgemv", "gemm", "gemv", "threads", "isa", "timestamp",
                        "git_revision", "cpu_model"})
    EXPECT_TRUE(j.contains(k)) << k;
  ASSERT_EQ(j["gemm"]["rows"].size(), 3u);
  for (const auto& row : j["gemm"]["rows"]) {
    EXPECT_GT(row["median_s"].get<double>(), 0.0);
    EXPECT_GT(row["weight_bytes"].get<int64_t>(), 0);
    // Every round's time, and the GFLOP/s range over them around the median's.
    ASSERT_EQ(row["round_s"].size(), 3u);
    const double lo = row["gflops_range"][0].get<double>(), hi = row["gflops_range"][1].get<double>();
    EXPECT_LE(lo, row["gflops"].get<double>());
    EXPECT_GE(hi, row["gflops"].get<double>());
  }
  // TQ2_0 bytes of a 48 x 300 matrix: 48 rows x 2 blocks x 66
  EXPECT_EQ(j["gemm"]["rows"][1]["weight_bytes"].get<int64_t>(), 48 * 2 * 66);
  EXPECT_EQ(j["gemm"]["rows"][0]["weight_bytes"].get<int64_t>(), 48 * 300 * 4);
}

TEST(BenchGemm, BadFlags) {
  const std::string json = ::testing::TempDir() + "/t81_gemm_bad.json";
  for (const std::string& a : std::vector<std::string>{"--m 0", "--k -3", "--threshold 0", "--repeats 0", "--granularity rows"}) {
    std::filesystem::remove(json);
    const ExecResult r = Exec("bench gemm " + a + " --json-output " + json);
    EXPECT_NE(r.rc, 0) << a;
    EXPECT_EQ(r.out.rfind("t81: ", 0), 0u) << r.out;
    EXPECT_FALSE(std::filesystem::exists(json)) << a;
  }
}

TEST(BenchTrain, TinyConfigRunsBothModes) {
  const std::string json = ::testing::TempDir() + "/t81_train.json";
  std::filesystem::remove(json);
  const ExecResult r = Exec("bench train --n-layer 1 --n-embd 32 --n-head 2 --vocab 100 --seq 16 --batch 2 --steps 2 --warmup 1 "
                            "--threads 1 --json-output " + json);
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = ReadJson(json);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_GT(j["t81_fp32"]["tokens_per_s"].get<double>(), 0.0);
  EXPECT_GT(j["t81_qat"]["tokens_per_s"].get<double>(), 0.0);
  EXPECT_TRUE(j["pytorch"].is_null());
  EXPECT_NE(r.out.find("loss"), std::string::npos);  // progress lines
}

TEST(ConvertAndGguf, InitConvertExportValidate) {
  const std::string dir = ::testing::TempDir() + "/t81_cli_pipeline";
  std::filesystem::remove_all(dir);
  ExecResult r = Exec("init " + dir + "/hf --arch llama --vocab 300 --n-embd 256 --n-layer 1 --n-head 4 --n-kv-head 2 --n-ff 512 --ctx 64");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = Exec("convert " + dir + "/hf " + dir + "/t81 --threshold 0.45 --granularity block --force-cpu-device-map");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("7 ternary tensors"), std::string::npos) << r.out;
  r = Exec("gguf " + dir + "/m.gguf --from-t81 " + dir + "/t81 --quant TQ1_0 --validate");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("validation OK: "), std::string::npos) << r.out;
  r = Exec("info " + dir + "/m.gguf");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("TQ1_0"), std::string::npos);
  r = Exec("info " + dir + "/t81");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("t81 checkpoint"), std::string::npos);
  // bad input: no output file appears
  r = Exec("gguf " + dir + "/bad.gguf --from-hf " + dir + "/hf --quant Q4_K");
  EXPECT_NE(r.rc, 0);
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.gguf"));
  r = Exec("gguf " + dir + "/bad.gguf --from-hf /nonexistent");
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(r.out.rfind("t81: ", 0), 0u) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.gguf"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace t81
