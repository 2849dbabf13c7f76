// Internal to ReadBenchmarks: one reader per file kind. Each adds what it reads to *d and returns
// an error (one line naming the file) when the file is empty or malformed; rows it has to skip
// inside a readable file become Problems of their own.
#pragma once

#include <string>

#include "t81/base/status.h"
#include "t81/report/data.h"

namespace t81::report::internal {

Status ReadFashionCsv(const std::string& path, BenchData* d);               // quantization_runs.csv
Status ReadTrainLog(const std::string& path, const std::string& name, BenchData* d);  // train_log.csv
Status ReadLmFormatsMd(const std::string& path, BenchData* d);              // lm_formats.md
Status ReadLmJson(const std::string& path, BenchData* d);                   // lm_*.json
Status ReadVitJson(const std::string& path, BenchData* d);                  // vit_*.json
Status ReadGgufJson(const std::string& path, BenchData* d);                 // gguf_*.json
Status ReadGemmJson(const std::string& path, BenchData* d);                 // gemm.json
// The run fields (timestamp, git_revision, cpu_model, isa, threads) of a JSON file, e.g. the
// train_run.json that train lm writes beside train_log.csv.
Result<RunMeta> ReadRunMeta(const std::string& path);

}  // namespace t81::report::internal
