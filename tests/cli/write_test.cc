// Writes are whole or absent: with a file-size limit (RLIMIT_FSIZE, as a full disk would stop
// them: the write fails with EFBIG instead of ENOSPC) every writing command fails with one line
// naming the file and the reason, and leaves neither the output nor its temp file behind.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "exec.h"

namespace t81 {
namespace {

namespace fs = std::filesystem;

std::string Fixture(const std::string& name) { return std::string(T81_TEST_DATA) + "/fixtures/" + name; }

// Runs t81 with args under a file-size limit of `limit` bytes (inherited by the child).
t81::testing::MeasuredResult RunLimited(const std::vector<std::string>& args, rlim_t limit) {
  struct rlimit old {};
  getrlimit(RLIMIT_FSIZE, &old);
  struct rlimit lim = old;
  lim.rlim_cur = limit;
  setrlimit(RLIMIT_FSIZE, &lim);
  auto prev = std::signal(SIGXFSZ, SIG_IGN);  // the write fails with EFBIG instead of killing
  std::vector<std::string> argv = {T81_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = t81::testing::ExecMeasured(argv);
  std::signal(SIGXFSZ, prev);
  setrlimit(RLIMIT_FSIZE, &old);
  return r;
}

TEST(Writes, AFullDiskLeavesNoPartialOutput) {
  const fs::path dir = fs::temp_directory_path() / ("t81_write_test_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  struct Case {
    std::vector<std::string> args;
    std::string out;  // the file that must not appear
  };
  const std::string gguf = (dir / "m.gguf").string(), conv = (dir / "conv").string(), init = (dir / "init").string();
  const Case cases[] = {
      {{"gguf", gguf, "--from-hf", Fixture("llama-tiny"), "--quant", "TQ2_0"}, gguf},
      {{"convert", Fixture("gpt2-tiny"), conv}, conv + "/model.t81.safetensors"},
      {{"init", init, "--arch", "llama", "--vocab", "512", "--n-embd", "256", "--n-layer", "2"}, init + "/model.safetensors"},
  };
  for (const Case& c : cases) {
    const auto r = RunLimited(c.args, 64 * 1024);
    EXPECT_NE(r.rc, 0) << c.args[0] << ": " << r.out;
    // One error line (after any progress lines), naming the file and the reason.
    size_t errors = 0;
    for (size_t at = r.out.find("t81: "); at != std::string::npos; at = r.out.find("t81: ", at + 1))
      errors += at == 0 || r.out[at - 1] == '\n';
    EXPECT_EQ(errors, 1u) << r.out;
    EXPECT_NE(r.out.find(c.out), std::string::npos) << r.out;             // names the file
    EXPECT_NE(r.out.find("File too large"), std::string::npos) << r.out;  // and the reason
    EXPECT_FALSE(fs::exists(c.out)) << c.out;
    EXPECT_FALSE(fs::exists(c.out + ".tmp")) << c.out;
    // Without the limit the same command succeeds (the failure was the limit's).
    const auto ok = RunLimited(c.args, RLIM_INFINITY);
    EXPECT_EQ(ok.rc, 0) << ok.out;
    EXPECT_TRUE(fs::exists(c.out)) << c.out;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace t81
