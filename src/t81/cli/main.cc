// t81: command-line entry point. The only place that turns a Status into an exit code.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "t81/base/threads.h"
#include "t81/cli/commands.h"
#include "t81/cli/run_info.h"

#ifndef T81_VERSION
#define T81_VERSION "?"
#endif

int main(int argc, char** argv) {
  // Streaming commands allocate and free one tensor's buffers (hundreds of MB) per tensor. glibc
  // would map and unmap each (every page faulted and zeroed anew: half the time of a GGUF export
  // went there); from the heap, freed buffers are reused. Peak memory is unchanged.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // A file-size limit (ulimit -f) then fails the write with EFBIG, reported as a one-line error
  // with the temp file removed, instead of killing the process with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"t81: ternary (1.58-bit) neural networks: quantize, train, run, benchmark"};
  app.require_subcommand(1);
  app.footer(
      "Run `t81 COMMAND --help` for a command's flags.\n"
      "Exit codes: 0 success; 1 bad input or a failed run (one line on stderr names the file or flag and the\n"
      "problem; no partial output is left); 2 usage error (unknown command or flag, missing argument).");
  app.set_version_flag("--version", std::string("t81 ") + T81_VERSION + " (git " + t81::cli::GitRevision() + ")");
  CLI::App* bench = app.add_subcommand("bench", "benchmarks that write CSV/JSON");
  bench->require_subcommand(1);
  t81::cli::Runner run;
  t81::cli::AddBenchFashion(*bench, &run);
  t81::cli::AddBenchGemm(*bench, &run);
  t81::cli::AddBenchTrain(*bench, &run);
  t81::cli::AddBenchGguf(*bench, &run);
  t81::cli::AddBenchMemory(*bench, &run);
  t81::cli::AddBenchTokenize(*bench, &run);
  t81::cli::AddBenchLm(*bench, &run);
  t81::cli::AddBenchVit(*bench, &run);
  t81::cli::AddInfo(app, &run);
  t81::cli::AddForward(app, &run);
  t81::cli::AddGguf(app, &run);
  t81::cli::AddInit(app, &run);
  t81::cli::AddConvert(app, &run);
  t81::cli::AddTokenize(app, &run);
  t81::cli::AddPerplexity(app, &run);
  t81::cli::AddGenerate(app, &run);
  t81::cli::AddTrain(app, &run);
  t81::cli::AddReport(app, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    std::printf("%s\n", e.what());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "t81: %s\n", e.what());
    return 2;
  }
  if (!run) {
    std::fprintf(stderr, "t81: no command given (see t81 --help)\n");
    return 2;
  }
  const t81::Status st = run();
  if (!st.ok()) {
    std::fprintf(stderr, "t81: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}
