// End-to-end tests of the t81 binary: bad flags and bad data fail with one "t81: " line on stderr
// and no output file; a short real run (when Fashion-MNIST is installed) writes and appends the
// CSV deterministically.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace t81::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFashionDir = "/usr/share/datasets/fashion-mnist";

fs::path FreshDir() {
  const ::testing::TestInfo* ti = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(ti->test_suite_name()) + "_" + ti->name();
  for (char& ch : name)
    if (ch == '/') ch = '_';
  const fs::path d = fs::temp_directory_path() / ("t81_cli_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  out.push_back(cur);
  return out;
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs T81_BIN with args (a shell fragment), stdout and stderr into files in dir.
RunResult RunT81(const std::string& args, const fs::path& dir) {
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd = std::string("'") + T81_BIN + "' " + args + " >'" + out.string() + "' 2>'" +
                          err.string() + "' </dev/null";
  const int st = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = Slurp(out);
  r.err = Slurp(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

// A failing run: non-zero exit, exactly one stderr line starting "t81: " that contains `want`,
// nothing in the output folder (no CSV, no temporary).
void ExpectFails(const std::string& flags, const std::string& want) {
  SCOPED_TRACE(flags);
  const fs::path dir = FreshDir();
  const fs::path out_dir = dir / "out";
  fs::create_directories(out_dir);
  const fs::path csv = out_dir / "runs.csv";
  const RunResult r = RunT81("bench fashion-mnist " + flags + " --output '" + csv.string() + "'", dir);
  EXPECT_NE(r.exit_code, 0) << "stderr: " << r.err;
  EXPECT_NE(r.exit_code, -1) << "killed by a signal? stderr: " << r.err;
  const std::vector<std::string> lines = Lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << "stderr:\n" << r.err;
  EXPECT_EQ(lines[0].rfind("t81: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(want), std::string::npos) << "message lacks '" << want << "': " << lines[0];
  EXPECT_EQ(r.out, "") << "stdout on failure";
  EXPECT_FALSE(fs::exists(csv)) << csv;
  EXPECT_TRUE(fs::is_empty(out_dir)) << out_dir << " has files";
  fs::remove_all(dir);
}

// Flags that keep a run short should a check be missing (it would then succeed and fail the test).
const std::string kShort = "--train-limit 200 ";

TEST(Cli, BatchSizeZero) { ExpectFails(kShort + "--batch-size 0", "--batch-size"); }
TEST(Cli, BatchSizeNegative) { ExpectFails(kShort + "--batch-size -5", "batch-size"); }
TEST(Cli, Fp32EpochsZero) { ExpectFails(kShort + "--qat-epochs 1 --fp32-epochs 0", "--fp32-epochs"); }
TEST(Cli, QatEpochsNegative) { ExpectFails(kShort + "--fp32-epochs 1 --qat-epochs -1", "qat-epochs"); }
TEST(Cli, ThresholdZero) { ExpectFails(kShort + "--threshold 0", "--threshold"); }
TEST(Cli, ThresholdNegative) { ExpectFails(kShort + "--threshold -0.5", "threshold"); }
TEST(Cli, ThresholdNan) { ExpectFails(kShort + "--threshold nan", "threshold"); }
TEST(Cli, DeviceCuda) { ExpectFails(kShort + "--device cuda", "CUDA"); }
TEST(Cli, DeviceUnknown) { ExpectFails(kShort + "--device tpu", "tpu"); }
TEST(Cli, DataDirMissing) { ExpectFails(kShort + "--data-dir /nonexistent", "dataset-fashion-mnist"); }
TEST(Cli, UnknownFlag) { ExpectFails(kShort + "--bogus", "--bogus"); }

// `t81 --version`: "t81 X.Y.Z (git REV)" on stdout, exit 0.
TEST(Cli, Version) {
  const fs::path dir = FreshDir();
  const RunResult r = RunT81("--version", dir);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("t81 0.", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("(git "), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}
// The subcommands listed under "Subcommands:" in a --help text.
std::vector<std::string> SubcommandsIn(const std::string& help) {
  std::vector<std::string> out;
  const size_t at = help.find("\nSubcommands:\n");
  if (at == std::string::npos) return out;
  std::istringstream in(help.substr(at + 14));
  std::string line;
  while (std::getline(in, line) && line.rfind("  ", 0) == 0) out.push_back(line.substr(2, line.find(' ', 2) - 2));
  return out;
}

// --help of every command: exit 0, a usage line, and a description for every option (on its line
// or, after a long option, on the next); the top level names the exit codes.
TEST(Cli, EveryCommandsHelpDescribesEveryOption) {
  const fs::path dir = FreshDir();
  const RunResult top = RunT81("--help", dir);
  ASSERT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("Exit codes: 0 success; 1 bad input"), std::string::npos) << top.out;
  std::vector<std::string> todo = SubcommandsIn(top.out);
  ASSERT_GE(todo.size(), 10u) << top.out;
  int checked = 0;
  while (!todo.empty()) {
    const std::string cmd = todo.back();
    todo.pop_back();
    const RunResult r = RunT81(cmd + " --help", dir);
    ASSERT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage: "), std::string::npos) << cmd;
    for (const std::string& sub : SubcommandsIn(r.out)) todo.push_back(cmd + " " + sub);
    const std::vector<std::string> lines = Lines(r.out);
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string& l = lines[i];
      if (l.rfind("  -", 0) != 0) continue;
      // Words after the option's names, its type (INT, TEXT=default, ...) and "...": the description.
      std::istringstream words(l);
      std::string w;
      words >> w;  // the names
      bool same_line = false;
      while (words >> w) {
        const bool type = w == "..." || w.rfind("INT", 0) == 0 || w.rfind("UINT", 0) == 0 || w.rfind("FLOAT", 0) == 0 ||
                          w.rfind("TEXT", 0) == 0 || w.rfind("BOOLEAN", 0) == 0;
        if (!type) {
          same_line = true;
          break;
        }
      }
      const bool next_line = i + 1 < lines.size() && lines[i + 1].rfind(std::string(20, ' '), 0) == 0;
      EXPECT_TRUE(same_line || next_line) << "t81 " << cmd << ": no description for '" << l << "'";
    }
    ++checked;
  }
  EXPECT_GE(checked, 18);
}
TEST(Cli, UnknownModel) { ExpectFails(kShort + "--model foo", "foo"); }
TEST(Cli, UnknownGranularity) { ExpectFails(kShort + "--granularity rows", "rows"); }
TEST(Cli, UnknownFormat) { ExpectFails(kShort + "--format tq3_0", "tq3_0"); }
TEST(Cli, UnknownActivations) { ExpectFails(kShort + "--activations fp16", "fp16"); }
TEST(Cli, NonNumericBatchSize) { ExpectFails(kShort + "--batch-size many", "batch-size"); }

TEST(Cli, CorruptGzipData) {
  const fs::path data = FreshDir();
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    // A gzip header followed by garbage, and a file of plain garbage.
    std::ofstream f(data / name, std::ios::binary);
    const unsigned char hdr[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03};
    f.write(reinterpret_cast<const char*>(hdr), sizeof(hdr));
    for (int i = 0; i < 4000; ++i) f.put(char((i * 7919 + 13) & 0xff));
  }
  ExpectFails(kShort + "--data-dir '" + data.string() + "'", "train-images-idx3-ubyte.gz");

  // Plain garbage (not gzip at all): read as an uncompressed file, rejected by the IDX check.
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}) {
    std::ofstream f(data / name, std::ios::binary | std::ios::trunc);
    for (int i = 0; i < 4000; ++i) f.put(char((i * 31 + 5) & 0xff));
  }
  ExpectFails(kShort + "--data-dir '" + data.string() + "'", "train-images-idx3-ubyte.gz");
  fs::remove_all(data);
}

TEST(Cli, NoSubcommand) {
  const fs::path dir = FreshDir();
  const RunResult r = RunT81("bench", dir);
  EXPECT_NE(r.exit_code, 0);
  const std::vector<std::string> lines = Lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("t81: ", 0), 0u) << lines[0];
  fs::remove_all(dir);
}

TEST(Cli, ShortRealRunWritesAndAppendsCsv) {
  if (!fs::is_directory(kFashionDir)) GTEST_SKIP() << kFashionDir << " not installed";
  const fs::path dir = FreshDir();
  const fs::path csv = dir / "sub" / "runs.csv";  // parent folder created by the tool
  const std::string args = "bench fashion-mnist --fp32-epochs 1 --qat-epochs 1 --train-limit 2000 --output '" +
                           csv.string() + "'";
  const RunResult r1 = RunT81(args, dir);
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  ASSERT_TRUE(fs::exists(csv));
  const std::vector<std::string> first = Lines(Slurp(csv));
  ASSERT_EQ(first.size(), 4u) << Slurp(csv);
  EXPECT_EQ(first[0].rfind("mode,accuracy,loss,latency_s,bytes", 0), 0u) << first[0];
  const size_t ncols = Split(first[0], ',').size();
  const char* modes[] = {"fp32", "ptq", "qat"};
  for (int i = 0; i < 3; ++i) {
    const std::vector<std::string> f = Split(first[size_t(i) + 1], ',');
    ASSERT_EQ(f.size(), ncols) << first[size_t(i) + 1];
    EXPECT_EQ(f[0], modes[i]);
    const double acc = std::stod(f[1]), loss = std::stod(f[2]);
    EXPECT_GT(acc, 0.5) << f[0];
    EXPECT_LE(acc, 1.0) << f[0];
    EXPECT_GT(loss, 0.0) << f[0];
    EXPECT_GT(std::stoll(f[4]), 0) << f[0];
  }
  // Ternary storage is smaller than fp32: 784 -> 10 is 31,400 fp32 bytes vs 10·4·66 + 40 = 2,680.
  EXPECT_EQ(Split(first[1], ',')[4], "31400");
  EXPECT_EQ(Split(first[2], ',')[4], "2680");
  EXPECT_EQ(Split(first[3], ',')[4], "2680");
  EXPECT_NE(r1.out.find("appended 3 rows"), std::string::npos) << r1.out;
  EXPECT_FALSE(fs::exists(csv.string() + ".tmp"));

  const RunResult r2 = RunT81(args, dir);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  const std::vector<std::string> both = Lines(Slurp(csv));
  ASSERT_EQ(both.size(), 7u) << Slurp(csv);
  int headers = 0;
  for (const std::string& l : both) headers += l.rfind("mode,", 0) == 0;
  EXPECT_EQ(headers, 1);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(both[size_t(i)], first[size_t(i)]) << "first run's lines kept";
  for (int i = 0; i < 3; ++i) {
    const std::vector<std::string> a = Split(both[size_t(i) + 1], ','), b = Split(both[size_t(i) + 4], ',');
    ASSERT_EQ(b.size(), ncols);
    for (int c : {0, 1, 2, 4}) EXPECT_EQ(a[size_t(c)], b[size_t(c)]) << "row " << i << " column " << c;
  }
  fs::remove_all(dir);
}

// A CSV written before the run columns (git_revision, cpu_model) were added gets the new header;
// its old rows are kept as they were. A CSV of another table is refused and left alone.
TEST(Cli, OlderCsvGetsTheNewHeaderOtherCsvIsRefused) {
  if (!fs::is_directory(kFashionDir)) GTEST_SKIP() << kFashionDir << " not installed";
  const fs::path dir = FreshDir();
  const fs::path csv = dir / "runs.csv";
  const std::string old_header =
      "mode,accuracy,loss,latency_s,bytes,model,threshold,granularity,format,activations,seed,"
      "fp32_epochs,qat_epochs,batch_size,lr,train_s,threads,isa,timestamp";
  const std::string old_row = "fp32,0.8,0.5,0.0001,31400,linear,0.45,block,tq2_0,f32,0,3,3,128,0.03,1.000,2,openblas,2026-01-01T00:00:00Z";
  {
    std::ofstream(csv) << old_header << "\n" << old_row << "\n";
  }
  const std::string args = "bench fashion-mnist --fp32-epochs 1 --qat-epochs 1 --train-limit 500 --output '" + csv.string() + "'";
  const RunResult r = RunT81(args, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(Slurp(csv));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], old_header + ",git_revision,cpu_model");
  EXPECT_EQ(lines[1], old_row);
  EXPECT_GE(Split(lines[2], ',').size(), Split(lines[0], ',').size());

  const fs::path other = dir / "other.csv";
  {
    std::ofstream(other) << "a,b\n1,2\n";
  }
  const RunResult bad = RunT81("bench fashion-mnist --fp32-epochs 1 --qat-epochs 1 --train-limit 500 --output '" + other.string() + "'", dir);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(other.string() + ": its header is not this command's"), std::string::npos) << bad.err;
  EXPECT_EQ(Slurp(other), "a,b\n1,2\n");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace t81::cli
