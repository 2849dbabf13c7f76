// Limits on JSON read from outside (config.json, tokenizer files, safetensors headers, JSONL
// texts), checked on the raw text before any parser builds a tree from it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "t81/base/status.h"

namespace t81::base {

// The largest JSON document t81 parses (tokenizer.json files of real models are < 40 MiB;
// safetensors caps its own header at 100 MB).
inline constexpr uint64_t kMaxJsonBytes = uint64_t(256) << 20;
// The deepest nesting of arrays/objects accepted (real files nest < 10 levels).
inline constexpr int kMaxJsonDepth = 64;

// OK if text is within kMaxJsonBytes and nests no deeper than kMaxJsonDepth (brackets inside
// strings are not counted); else an error naming `where`.
inline Status CheckJsonLimits(std::string_view text, const std::string& where) {
  if (text.size() > kMaxJsonBytes)
    return Error(where + ": JSON of " + std::to_string(text.size()) + " bytes, more than t81's limit of " +
                 std::to_string(kMaxJsonBytes));
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        return Error(where + ": JSON nested deeper than t81's limit of " + std::to_string(kMaxJsonDepth) + " levels");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return OkStatus();
}

}  // namespace t81::base
