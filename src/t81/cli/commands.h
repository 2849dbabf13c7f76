// t81 subcommands. Each registers its flags on a CLI11 app and runs after parsing; a failed run
// returns a Status whose message main prints as one line.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "t81/base/status.h"

namespace t81::cli {

using Runner = std::function<Status()>;

// Registers `bench fashion-mnist` on bench; sets *run when that subcommand is chosen.
void AddBenchFashion(CLI::App& bench, Runner* run);
void AddBenchGemm(CLI::App& bench, Runner* run);
void AddBenchTrain(CLI::App& bench, Runner* run);
void AddBenchGguf(CLI::App& bench, Runner* run);
void AddBenchMemory(CLI::App& bench, Runner* run);
void AddBenchTokenize(CLI::App& bench, Runner* run);
void AddBenchLm(CLI::App& bench, Runner* run);
void AddBenchVit(CLI::App& bench, Runner* run);
void AddInfo(CLI::App& app, Runner* run);
void AddGguf(CLI::App& app, Runner* run);
void AddInit(CLI::App& app, Runner* run);
void AddConvert(CLI::App& app, Runner* run);
void AddForward(CLI::App& app, Runner* run);
void AddTokenize(CLI::App& app, Runner* run);
void AddPerplexity(CLI::App& app, Runner* run);
void AddGenerate(CLI::App& app, Runner* run);
void AddTrain(CLI::App& app, Runner* run);
void AddTrainVit(CLI::App& train, Runner* run);  // `train vit`, under AddTrain's `train`
void AddReport(CLI::App& app, Runner* run);

}  // namespace t81::cli
