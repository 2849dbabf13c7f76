// Reading llama.cpp's own timing report (llama_perf_context_print, printed by llama-cli and
// llama-completion), for `t81 bench gguf --llama-cli`.
#pragma once

#include <string>

namespace t81::io {

// From lines like
//   "llama_perf_context_print: prompt eval time =  12.30 ms /  32 tokens (...)"
//   "llama_perf_context_print:        eval time = 456.70 ms / 127 runs   (...)"
// sets ms per prompt token (if present) and ms per generated token; false without an eval line.
bool ParseLlamaTimings(const std::string& text, double* prompt_ms_per_token, double* eval_ms_per_token);

}  // namespace t81::io
