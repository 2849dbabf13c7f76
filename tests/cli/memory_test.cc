// Memory bounds at the seed's model width: a checkpoint of Phi-3-mini's exact width (hidden 3072,
// FFN 8192, 32 heads, vocab 32064, bf16) but 2 layers (≈ 0.85 GB), made tensor by tensor in a
// temp folder, then run through the commands as child processes with their peak RSS
// (getrusage) checked against the bounds of the streaming design:
//   info                        < 100 MiB (config.json and tensor headers only)
//   init, convert, gguf (+validate, from HF and from t81)   ≤ 1 GiB + the largest tensor (as f32)
//   forward (float inference of the bf16 checkpoint)       ≤ 1.15 × the checkpoint's bytes for the
//       weights, + 128 MiB for the activations of 16 tokens and the runtime
// Labelled "memory" (sanitizer runs leave it out); skips when the disk has < 4 GB free.
#include <gtest/gtest.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "../test_util.h"
#include "exec.h"
#include "t81/io/safetensors.h"

namespace t81 {
namespace {

namespace fs = std::filesystem;
using t81::testing::ExecMeasured;
using t81::testing::MeasuredResult;

constexpr double kLargestTensorMiB = 32064.0 * 3072 * 4 / 1048576;  // the embedding / head as f32
constexpr double kStreamBoundMiB = 1024 + kLargestTensorMiB;
constexpr double kCheckpointMiB = 423508992.0 * 2 / 1048576;  // the 2-layer model in bf16
constexpr double kForwardBoundMiB = 1.15 * kCheckpointMiB + 128;

MeasuredResult RunT81(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {T81_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return ExecMeasured(argv);
}

class SeedWidth : public ::testing::Test {
 protected:
  void SetUp() override {
    struct statvfs st {};
    if (statvfs(fs::temp_directory_path().c_str(), &st) == 0 && double(st.f_bavail) * double(st.f_frsize) < 4e9)
      GTEST_SKIP() << "less than 4 GB free in " << fs::temp_directory_path() << ": memory-bound test skipped";
    dir_ = std::make_unique<t81::testing::TempDir>("t81_memory_test");
  }
  std::string Path(const std::string& name) const { return *dir_ / name; }
  std::unique_ptr<t81::testing::TempDir> dir_;
};

TEST_F(SeedWidth, StreamingCommandsStayWithinTheirBounds) {
  const std::string hf = Path("phi3-2l"), t81 = Path("phi3-2l-t81"), in = Path("in.safetensors");
  {  // 16 token ids for forward
    std::vector<int64_t> ids;
    for (int i = 0; i < 16; ++i) ids.push_back((i * 2003 + 7) % 32064);
    io::SafeTensorsWriter w;
    w.AddI64("input.input_ids", {1, 16}, ids.data());
    ASSERT_TRUE(w.Write(in).ok());
  }
  struct Step {
    std::vector<std::string> args;
    double bound_mib;
    const char* expect;  // in the output
  };
  const Step steps[] = {
      {{"init", hf, "--arch", "phi3", "--vocab", "32064", "--n-embd", "3072", "--n-layer", "2", "--n-head", "32",
        "--n-ff", "8192", "--ctx", "4096", "--dtype", "bf16"},
       kStreamBoundMiB, "423508992 parameters"},
      {{"info", hf}, 100, "architecture phi3"},
      {{"forward", hf, "--inputs", in, "--out", Path("out.safetensors")}, kForwardBoundMiB, "wrote"},
      {{"convert", hf, t81, "--threshold", "0.45", "--format", "tq1_0"}, kStreamBoundMiB, "converted"},
      {{"info", t81}, 100, "t81 checkpoint"},
      {{"gguf", Path("hf.gguf"), "--from-hf", hf, "--quant", "TQ1_0", "--validate"}, kStreamBoundMiB, "validation OK"},
      {{"gguf", Path("t81.gguf"), "--from-t81", t81, "--quant", "TQ1_0", "--validate"}, kStreamBoundMiB,
       "validation OK"},
      {{"info", Path("t81.gguf")}, 100, "TQ1_0"},
  };
  for (const Step& s : steps) {
    const MeasuredResult r = RunT81(s.args);
    ASSERT_EQ(r.rc, 0) << s.args[0] << ": " << r.out;
    EXPECT_NE(r.out.find(s.expect), std::string::npos) << s.args[0] << ": " << r.out;
    EXPECT_LE(r.peak_rss_mib, s.bound_mib) << s.args[0] << " " << s.args[1];
    std::printf("%-8s %-50s peak RSS %8.1f MiB (bound %.0f)\n", s.args[0].c_str(), fs::path(s.args[1]).filename().c_str(),
                r.peak_rss_mib, s.bound_mib);
  }
}

}  // namespace
}  // namespace t81
