// base/file: temp files per process, stale temps of killed writers removed, and CSV-style appends
// that keep every line whole when several processes append at once (fork).
#include "t81/base/file.h"
#include "t81/base/json_limits.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace t81::base {
namespace {

namespace fs = std::filesystem;

struct Dir {
  fs::path p = fs::temp_directory_path() / ("t81_file_test_" + std::to_string(getpid()));
  Dir() {
    fs::remove_all(p);
    fs::create_directories(p);
  }
  ~Dir() { fs::remove_all(p); }
};

std::set<std::string> Names(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

// A pid that no process has now: a child that has exited and been reaped.
pid_t DeadPid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

TEST(AtomicFile, TempIsPerProcessAndNeverLeftBehind) {
  Dir d;
  const std::string out = (d.p / "a.bin").string();
  EXPECT_EQ(TempPathFor(out), out + "." + std::to_string(getpid()) + ".tmp");
  {
    AtomicFileWriter w;
    ASSERT_TRUE(w.Open(out).ok());
    ASSERT_TRUE(w.Write("abc", 3).ok());
    EXPECT_TRUE(fs::exists(TempPathFor(out)));
    EXPECT_FALSE(fs::exists(out));  // nothing at the output until Commit
  }  // abandoned: the temp file goes
  EXPECT_TRUE(Names(d.p).empty());
  ASSERT_TRUE(WriteFileAtomic(out, "whole").ok());
  EXPECT_EQ(Names(d.p), std::set<std::string>{"a.bin"});
  EXPECT_EQ(ReadFile(out).value(), "whole");
}

TEST(AtomicFile, StaleTempsOfGoneProcessesAreRemovedOthersKept) {
  Dir d;
  const std::string out = (d.p / "m.gguf").string();
  const std::string dead = out + "." + std::to_string(DeadPid()) + ".tmp";
  const std::string live = out + "." + std::to_string(getppid()) + ".tmp";  // a running writer
  const std::string legacy = out + ".tmp";
  const std::string other = (d.p / "other.gguf.1.tmp").string();  // another output's temp
  for (const std::string& f : {dead, live, legacy, other}) std::ofstream(f) << "partial";
  ASSERT_TRUE(WriteFileAtomic(out, "new").ok());
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(legacy));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_EQ(ReadFile(out).value(), "new");
}

TEST(AppendLinesLocked, ConcurrentProcessesKeepEveryLineWhole) {
  Dir d;
  const std::string csv = (d.p / "runs.csv").string();
  constexpr int kProcs = 4, kRows = 60;
  const std::string pad(300, 'x');  // long lines: a torn write would show
  pid_t kids[kProcs];
  for (int c = 0; c < kProcs; ++c) {
    kids[c] = fork();
    ASSERT_GE(kids[c], 0);
    if (kids[c] == 0) {
      for (int i = 0; i < kRows; ++i) {
        const std::string row = std::to_string(c) + "," + std::to_string(i) + "," + pad;
        if (!AppendLinesLocked(csv, "proc,row,pad", {row}).ok()) _exit(1);
      }
      _exit(0);
    }
  }
  for (pid_t k : kids) {
    int st = 0;
    waitpid(k, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  std::ifstream in(csv);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, "proc,row,pad");
  std::set<std::string> seen;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    const size_t a = line.find(','), b = line.find(',', a + 1);
    ASSERT_NE(b, std::string::npos) << line;
    EXPECT_EQ(line.substr(b + 1), pad);
    EXPECT_TRUE(seen.insert(line.substr(0, b)).second) << "duplicate " << line.substr(0, b);
  }
  EXPECT_EQ(lines, kProcs * kRows);  // none lost to a concurrent rewrite
  EXPECT_EQ(Names(d.p), std::set<std::string>{"runs.csv"});
}

TEST(JsonLimits, DeepOrHugeJsonIsRefusedBracketsInStringsAreNot) {
  EXPECT_TRUE(CheckJsonLimits(R"({"a": [[{"b": "[[[[[[[[\"{{{{"}]]})", "f.json").ok());
  const std::string ok_deep = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(CheckJsonLimits(ok_deep, "f.json").ok());
  const Status deep = CheckJsonLimits("[" + ok_deep + "]", "f.json");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.message(), "f.json: JSON nested deeper than t81's limit of 64 levels");
  // Brackets inside a string (with an escaped quote before them) do not count.
  EXPECT_TRUE(CheckJsonLimits("[\"\\\"" + std::string(200, '[') + "\"]", "f.json").ok());
}

TEST(ReadFile, RefusesFilesOverTheLimit) {
  Dir d;
  const std::string f = (d.p / "config.json").string();
  ASSERT_TRUE(WriteFileAtomic(f, std::string(100, ' ')).ok());
  EXPECT_TRUE(ReadFile(f, 100).ok());
  const auto r = ReadFile(f, 99);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(f + ": 100 bytes, more than"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace t81::base
