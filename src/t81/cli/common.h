// Helpers shared by the t81 subcommands: atomic file output, CSV append, JSON output.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "t81/base/status.h"

namespace t81::cli {

// Writes content to path through a temp file + rename; creates missing parent folders.
Status WriteFileAtomic(const std::string& path, const std::string& content);
// Appends rows to a CSV file, writing the header only when the file is new or empty
// (base::AppendLinesLocked: an older header that is a prefix of header is upgraded, another is an error).
// The whole file is rewritten atomically, so a failure leaves the old file intact, under a lock
// on its folder, so concurrent runs appending to it keep every row, whole and in one piece.
Status AppendCsv(const std::string& path, const std::string& header,
                 const std::vector<std::string>& rows);
std::string Timestamp();  // UTC, ISO 8601
// s to stdout byte for byte, flushed (text as it is produced); an error if stdout fails.
Status WriteStdout(const std::string& s);
// Paired timings (same run, same round): the median and range of the ratios num[i] / den[i].
struct RatioStats {
  double median = 0, min = 0, max = 0;
};
RatioStats PairedRatios(const std::vector<double>& num, const std::vector<double>& den);
std::string HumanBytes(int64_t bytes);
std::string HumanDuration(double seconds);
// Runs a shell command that prints one JSON object on stdout (a baseline script); the object,
// or an error naming `what` when it fails, prints something else or lacks one of `numbers`.
Result<nlohmann::json> RunJsonCommand(const std::string& cmd, const std::string& what,
                                      const std::vector<std::string>& numbers);  // "42s", "3m07s", "1h05m"
// A training log (CSV whose column `column` is the step number) without the rows after step, for
// a resumed run that writes them again. A missing file is fine.
Status TruncateCsvAfter(const std::string& path, int64_t step, int column = 0);

}  // namespace t81::cli
