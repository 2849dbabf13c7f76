// Pre-tokenizer regular expressions: PCRE2 (UTF + UCP, JIT-compiled when the platform allows), so
// a tokenizer's own pattern (GPT-2's, or the one in tokenizer.json) runs as written. Subjects must
// be valid UTF-8 (the tokenizer validates its input once; matching skips PCRE2's own check).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "t81/base/status.h"

namespace t81::text {

// GPT-2's pre-tokenizer pattern (also the ByteLevel pre-tokenizer's default in tokenizer.json).
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class Regex {
 public:
  // pattern compiled as a regex, or matched as a plain string when literal; errors name `where`.
  static Result<Regex> Compile(std::string_view pattern, bool literal, const std::string& where);

  // Splits text into its matches and the gaps between them, in order, appending the non-empty
  // pieces to out (Hugging Face's "Isolated" behaviour); with drop_matches, only the gaps
  // ("Removed"). Empty matches split nothing.
  Status Split(std::string_view text, bool drop_matches, std::vector<std::string_view>* out) const;

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
  std::string where_;
};

}  // namespace t81::text
