// Text <-> token ids for the models t81 runs: byte-level BPE (GPT-2, Llama 3) and
// SentencePiece-style BPE (Llama 2, Mistral, Phi-3), loaded from Hugging Face tokenizer.json or
// GPT-2's vocab.json + merges.txt / encoder.json + vocab.bpe, with transformers' semantics:
// added tokens are split out of the text before the model runs, Encode(text, true) adds what the
// post-processor adds, Decode(Encode(s)) == s for text without added-token strings (and, for the
// SentencePiece kind, without U+2581). Malformed files give one-line errors naming the file and
// the entry; Encode/Decode are const and safe to call from several threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "t81/base/status.h"

namespace t81::io {
class GgufFile;
class GgufWriter;
}  // namespace t81::io

namespace t81::text {

enum class TokenizerKind {
  kByteLevel,      // GPT-2's byte alphabet; merges over bytes (GGUF tokenizer model "gpt2")
  kSentencePiece,  // U+2581 for spaces; merges over characters, byte fallback (GGUF "llama")
};
const char* TokenizerKindName(TokenizerKind k);

// Token types as GGUF stores them (llama.cpp's llama_token_type).
enum class TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// An entry of tokenizer.json's added_tokens (or tokenizer_config.json's added_tokens_decoder).
struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool lstrip = false, rstrip = false;  // absorb the whitespace on that side of a match
  bool single_word = false;             // match only where no word character touches it
  bool normalized = false;              // matched in the raw text all the same (see tokenizer.cc)
};

struct DecodeOptions {
  bool skip_special = false;  // drop special added tokens (BOS, EOS, ...) before decoding
};

class Tokenizer {
 public:
  // A folder (tokenizer.json, else vocab.json + merges.txt, else encoder.json + vocab.bpe; then
  // tokenizer_config.json and config.json beside it for the special ids) or one of those files.
  // (A .gguf file is read with FromGguf.)
  static Result<Tokenizer> Load(const std::filesystem::path& dir_or_file);
  // The tokenizer of a GGUF file's tokenizer.ggml.* keys, as llama.cpp reads them: model "gpt2"
  // with pre-tokenizer "gpt-2" or "llama-bpe", or model "llama" (merges rebuilt from the scores).
  // Control, user-defined and unknown tokens become special / plain added tokens; GGUF has no
  // lstrip / rstrip / single_word flags, so those are off.
  static Result<Tokenizer> FromGguf(const io::GgufFile& f);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // text must be valid UTF-8. add_special: what the post-processor adds (e.g. <s> for Llama 2 /
  // Mistral; nothing for GPT-2).
  Result<std::vector<int32_t>> Encode(std::string_view text, bool add_special) const;
  // The text of ids (every id in [0, vocab_size)); byte sequences that are not valid UTF-8 become
  // U+FFFD, as in transformers.
  Result<std::string> Decode(std::span<const int32_t> ids, const DecodeOptions& opt = {}) const;

  TokenizerKind kind() const;
  int64_t vocab_size() const;
  int32_t bos_id() const;  // -1 if none
  int32_t eos_id() const;
  int32_t unk_id() const;
  int32_t pad_id() const;
  const std::vector<int32_t>& prefix_ids() const;  // what Encode(…, true) puts before the text
  const std::vector<int32_t>& suffix_ids() const;  // … and after it
  const std::string& path() const;                  // the tokenizer file it was loaded from

  // For a GGUF writer. tokens: by id, as the vocabulary spells them (byte-level: GPT-2's byte
  // alphabet; SentencePiece: U+2581 for spaces, "<0xNN>" byte tokens); merges in rank order;
  // scores: for the SentencePiece kind, -(rank of the first merge that makes the token), 0 for
  // tokens no merge makes (all 0 for byte-level); the regex of the pre-tokenizer ("" if none).
  const std::vector<std::string>& tokens() const;
  const std::vector<std::pair<std::string, std::string>>& merges() const;
  const std::vector<float>& scores() const;
  const std::vector<TokenType>& token_types() const;
  const std::vector<AddedToken>& added_tokens() const;
  const std::string& pre_tokenizer_regex() const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  friend struct GgufCodec;  // tokenizer_gguf.cc: reads the pipeline to write it as GGUF keys
  std::unique_ptr<Impl> impl_;
};

// Writes t as llama.cpp's tokenizer.ggml.* keys for a model of n_vocab embedding rows: model,
// pre (byte-level), tokens, token_type, merges (byte-level) or scores (SentencePiece), the special
// ids t has, add_bos_token / add_eos_token from its post-processor. Ids t lacks up to n_vocab are
// control tokens "[PAD<i>]". Errors: more tokens than n_vocab, or a pre-tokenizer / post-processor
// llama.cpp cannot express.
Status WriteGgufTokenizer(const Tokenizer& t, int64_t n_vocab, io::GgufWriter* w);
// Checks that f holds exactly the keys WriteGgufTokenizer(t, n_vocab, …) writes.
Status CheckGgufTokenizer(const Tokenizer& t, int64_t n_vocab, const io::GgufFile& f);

}  // namespace t81::text
