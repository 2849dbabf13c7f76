// t81: command-line entry point. The only place that turns a Status into an exit code.
#include <cstdio>
#include <thread>

#include "t81/base/threads.h"
#include "t81/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"t81: ternary (1.58-bit) neural networks: quantize, train, run, benchmark"};
  app.require_subcommand(1);
  CLI::App* bench = app.add_subcommand("bench", "benchmarks that write CSV/JSON");
  bench->require_subcommand(1);
  t81::cli::Runner run;
  t81::cli::AddBenchFashion(*bench, &run);
  t81::cli::AddBenchGemm(*bench, &run);
  t81::cli::AddBenchTrain(*bench, &run);
  t81::cli::AddBenchGguf(*bench, &run);
  t81::cli::AddInfo(app, &run);
  t81::cli::AddForward(app, &run);
  t81::cli::AddGguf(app, &run);
  t81::cli::AddInit(app, &run);
  t81::cli::AddConvert(app, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
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
