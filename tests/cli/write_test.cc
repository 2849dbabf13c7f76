// Writes are whole or absent: with a file-size limit (RLIMIT_FSIZE, `ulimit -f`, as a full disk
// would stop them: the write fails with EFBIG instead of ENOSPC) every writing command fails with
// one line naming the file and the reason, and leaves neither the output nor its temp file behind;
// a writer killed (SIGKILL) mid-write leaves the old output or none, and the next run removes
// its temp file.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exec.h"

namespace t81 {
namespace {

namespace fs = std::filesystem;

std::string Fixture(const std::string& name) { return std::string(T81_TEST_DATA) + "/fixtures/" + name; }

// Runs t81 with args under a file-size limit of `limit` bytes (inherited by the child, with
// SIGXFSZ at its default action, killing: as from a shell's `ulimit -f`; t81 itself ignores it).
t81::testing::MeasuredResult RunLimited(const std::vector<std::string>& args, rlim_t limit) {
  struct rlimit old {};
  getrlimit(RLIMIT_FSIZE, &old);
  struct rlimit lim = old;
  lim.rlim_cur = limit;
  setrlimit(RLIMIT_FSIZE, &lim);
  auto prev = std::signal(SIGXFSZ, SIG_DFL);
  std::vector<std::string> argv = {T81_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = t81::testing::ExecMeasured(argv);
  std::signal(SIGXFSZ, prev);
  setrlimit(RLIMIT_FSIZE, &old);
  return r;
}

// The files in dir whose names end in ".tmp" (temp files of AtomicFileWriter).
std::vector<std::string> Temps(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".tmp") out.push_back(e.path().string());
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
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
    EXPECT_TRUE(Temps(dir).empty()) << Temps(dir).front();
    // Without the limit the same command succeeds (the failure was the limit's).
    const auto ok = RunLimited(c.args, RLIM_INFINITY);
    EXPECT_EQ(ok.rc, 0) << ok.out;
    EXPECT_TRUE(fs::exists(c.out)) << c.out;
  }
  fs::remove_all(dir);
}

// Starts t81 with args, waits until its temp file for `out` has bytes in it, then SIGKILLs it.
// Returns false if the process ended before it was caught writing.
bool KillMidWrite(const std::vector<std::string>& args, const std::string& out) {
  std::vector<std::string> argv = {T81_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = 0;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  const int rc = posix_spawn(&pid, T81_BIN, &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  const std::string tmp = out + "." + std::to_string(pid) + ".tmp";
  bool caught = false;
  for (int i = 0; i < 200000 && !caught; ++i) {
    std::error_code ec;
    if (fs::file_size(tmp, ec) > 0 && !ec) {
      kill(pid, SIGKILL);
      caught = true;
      break;
    }
    if (waitpid(pid, nullptr, WNOHANG) == pid) return false;  // finished first
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (!caught) kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  return caught && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

TEST(Writes, SigkillMidWriteLeavesTheOldFileOrNone) {
  const fs::path dir = fs::temp_directory_path() / ("t81_kill_test_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // A model big enough that writing its GGUF and t81 checkpoint takes a while (40 M parameters).
  const std::string model = (dir / "model").string();
  ASSERT_EQ(RunLimited({"init", model, "--arch", "llama", "--vocab", "16000", "--n-embd", "1024", "--n-layer", "2",
                        "--n-ff", "2048"},
                       RLIM_INFINITY)
                .rc,
            0);
  const std::string gguf = (dir / "out" / "m.gguf").string(), conv = (dir / "conv").string();
  struct Case {
    std::vector<std::string> args;
    std::string out;
  };
  const Case cases[] = {
      {{"gguf", gguf, "--from-hf", model, "--quant", "TQ1_0"}, gguf},
      {{"convert", model, conv}, conv + "/model.t81.safetensors"},
  };
  for (const Case& c : cases) {
    const fs::path out_dir = fs::path(c.out).parent_path();
    // No output yet: a killed writer leaves none (its temp file only).
    ASSERT_TRUE(KillMidWrite(c.args, c.out)) << c.args[0] << " finished before it could be killed";
    EXPECT_FALSE(fs::exists(c.out)) << c.out;
    EXPECT_EQ(Temps(out_dir).size(), 1u);
    // A complete run: the output, and the killed run's temp file removed.
    const auto ok = RunLimited(c.args, RLIM_INFINITY);
    ASSERT_EQ(ok.rc, 0) << ok.out;
    EXPECT_TRUE(Temps(out_dir).empty()) << Temps(out_dir).front();
    const std::string whole = Slurp(c.out);
    ASSERT_GT(whole.size(), 1u << 20);
    // Killed while replacing it: the old output, byte for byte.
    ASSERT_TRUE(KillMidWrite(c.args, c.out)) << c.args[0] << " finished before it could be killed";
    EXPECT_EQ(Slurp(c.out), whole) << c.out;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace t81
