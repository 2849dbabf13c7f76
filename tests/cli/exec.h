// Runs the t81 binary (or any command) for the end-to-end CLI tests: exit code and stdout+stderr.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace t81::testing {

struct ExecResult {
  int rc;
  std::string out;
};

inline ExecResult ExecCommand(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace t81::testing

#include <spawn.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

extern char** environ;

namespace t81::testing {

struct MeasuredResult {
  int rc;
  std::string out;
  double peak_rss_mib;  // the child's own peak resident set (getrusage through wait4)
};

// Runs argv[0] with argv directly (no shell, so the measured process is the program itself).
inline MeasuredResult ExecMeasured(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe(fds) != 0) return {-1, "pipe failed", 0};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return {-1, "cannot run " + argv[0], 0};
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, double(ru.ru_maxrss) / 1024.0};
}

}  // namespace t81::testing
