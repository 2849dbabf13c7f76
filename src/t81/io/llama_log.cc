#include "t81/io/llama_log.h"

#include <regex>

namespace t81::io {

bool ParseLlamaTimings(const std::string& text, double* prompt_ms_tok, double* eval_ms_tok) {
  static const std::regex kPrompt(R"(prompt eval time\s*=\s*([0-9.]+)\s*ms\s*/\s*([0-9]+)\s*tokens)");
  static const std::regex kEval(R"((^|[^t])\s+eval time\s*=\s*([0-9.]+)\s*ms\s*/\s*([0-9]+)\s*(runs|tokens))");
  std::smatch m;
  if (std::regex_search(text, m, kPrompt) && std::stod(m[2]) > 0) *prompt_ms_tok = std::stod(m[1]) / std::stod(m[2]);
  // The eval line is the one not preceded by "prompt".
  auto begin = text.cbegin();
  while (std::regex_search(begin, text.cend(), m, kEval)) {
    const size_t pos = size_t(m.position(0) + (begin - text.cbegin()));
    const bool is_prompt = pos >= 6 && text.compare(pos - 6 + (m[1].length() ? 1 : 0), 6, "prompt") == 0;
    if (!is_prompt && std::stod(m[3]) > 0) {
      *eval_ms_tok = std::stod(m[2]) / std::stod(m[3]);
      return true;
    }
    begin = m[0].second;
  }
  return false;
}

}  // namespace t81::io
