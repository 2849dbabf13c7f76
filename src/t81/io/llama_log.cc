#include "t81/io/llama_log.h"

#include <cstdlib>
#include <regex>

namespace t81::io {
namespace {
// A matched number ("[0-9.]+": may still be "." or "1.2.3"): strtod never throws; junk reads 0.
double Num(const std::ssub_match& m) { return std::strtod(m.str().c_str(), nullptr); }
}  // namespace

bool ParseLlamaTimings(const std::string& text, double* prompt_ms_tok, double* eval_ms_tok) {
  static const std::regex kPrompt(R"(prompt eval time\s*=\s*([0-9.]+)\s*ms\s*/\s*([0-9]+)\s*tokens)");
  static const std::regex kEval(R"((^|[^t])\s+eval time\s*=\s*([0-9.]+)\s*ms\s*/\s*([0-9]+)\s*(runs|tokens))");
  std::smatch m;
  if (std::regex_search(text, m, kPrompt) && Num(m[2]) > 0) *prompt_ms_tok = Num(m[1]) / Num(m[2]);
  // The eval line is the one not preceded by "prompt".
  auto begin = text.cbegin();
  while (std::regex_search(begin, text.cend(), m, kEval)) {
    const size_t pos = size_t(m.position(0) + (begin - text.cbegin()));
    const bool is_prompt = pos >= 6 && text.compare(pos - 6 + (m[1].length() ? 1 : 0), 6, "prompt") == 0;
    if (!is_prompt && Num(m[3]) > 0) {
      *eval_ms_tok = Num(m[2]) / Num(m[3]);
      return true;
    }
    begin = m[0].second;
  }
  return false;
}

}  // namespace t81::io
