// Internal to src/t81/text: the state of a loaded Tokenizer (tokenizer_load.cc fills it,
// tokenizer.cc runs it). Not part of the API.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "t81/text/regex.h"
#include "t81/text/tokenizer.h"

namespace t81::text {

struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StrMap = std::unordered_map<std::string, V, StrHash, std::equal_to<>>;

// GPT-2's byte -> character map: printable bytes stand for themselves, the others for U+0100 + n.
const std::array<char32_t, 256>& ByteToUnicode();
// The inverse (-1 for characters that stand for no byte).
int UnicodeToByte(char32_t cp);

struct NormStep {  // tokenizer.json normalizers
  enum Kind { kPrepend, kReplace } kind;
  std::string a, b;  // Prepend: a; Replace: a -> b
};

enum class PrependScheme { kAlways, kFirst, kNever };

struct PreStep {  // tokenizer.json pre-tokenizers
  enum Kind { kSplit, kByteLevel, kMetaspace } kind;
  Regex re;                   // Split; ByteLevel with use_regex
  bool has_re = false;
  bool drop_matches = false;  // Split behavior "Removed"
  bool add_prefix_space = false;  // ByteLevel
  std::string replacement;    // Metaspace
  PrependScheme prepend = PrependScheme::kAlways;
  bool split = true;          // Metaspace: split before each replacement character
};

struct DecStep {  // tokenizer.json decoders
  enum Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip, kMetaspace } kind;
  std::string a, b;  // Replace a -> b; Strip: a is the character; Metaspace: a is the replacement
  int start = 0, stop = 0;  // Strip
  PrependScheme prepend = PrependScheme::kAlways;  // Metaspace
};

// Added tokens are found in the text by a byte trie, leftmost-longest.
class AddedMatcher {
 public:
  void Add(std::string_view content, int32_t index);
  bool empty() const { return nodes_.size() <= 1; }
  // The longest added token (its index) starting at text[pos], or -1; *len gets its length.
  int32_t MatchAt(std::string_view text, size_t pos, size_t* len) const;
  bool MayStart(unsigned char c) const { return first_[c]; }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> next;
    int32_t token = -1;
  };
  std::vector<Node> nodes_{Node{}};
  std::array<bool, 256> first_{};
};

struct MergeInfo {
  int32_t rank;
  int32_t id;  // the merged token
};

struct Tokenizer::Impl {
  std::string path;
  TokenizerKind kind = TokenizerKind::kByteLevel;

  std::vector<std::string> tokens;
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<float> scores;
  std::vector<TokenType> types;
  std::vector<AddedToken> added;
  std::string pre_regex;

  // Model side. piece_to_id: the model vocabulary (not added tokens) in the model's space: raw
  // bytes for byte-level, the normalized text for SentencePiece. byte_ids: byte-level, the token
  // of each single byte; SentencePiece, the <0xNN> tokens (-1 where missing).
  StrMap<int32_t> piece_to_id;
  std::array<int32_t, 256> byte_ids{};
  std::unordered_map<uint64_t, MergeInfo> merge_map;  // (left id << 32 | right id) -> merge
  bool byte_fallback = false, fuse_unk = false, ignore_merges = false;

  // Decoding: the raw bytes of each token (byte-level), and which ids are added / special.
  std::vector<std::string> token_bytes;
  std::vector<uint8_t> is_added, is_special;

  int32_t unk = -1, bos = -1, eos = -1, pad = -1;
  std::vector<int32_t> prefix, suffix;

  std::vector<NormStep> normalizers;
  std::vector<PreStep> pre;
  std::vector<DecStep> dec;
  bool plain_byte_decoder = false;  // the decoder is ByteLevel alone: decode by token_bytes
  // SentencePiece: when no vocabulary token has another character before the space symbol, no
  // merge can join across "x|▁", so words are cut there before BPE (same ids, cacheable words).
  std::string cut_before;
  AddedMatcher matcher;

  // Per-word cache of BPE results (words up to kMaxCachedWord bytes; cleared when full).
  static constexpr size_t kMaxCachedWord = 256;
  static constexpr size_t kCacheCapacity = 1 << 16;
  mutable std::mutex cache_mu;
  mutable StrMap<std::vector<int32_t>> cache;

  Status EncodeSection(std::string_view s, size_t section_index, std::vector<int32_t>* out) const;
  Status EncodeWord(std::string_view w, std::vector<int32_t>* out) const;
  Status Merge(std::string_view w, std::vector<int32_t>* out) const;
};

// Fills impl from a tokenizer.json document already in memory (where: its name in messages);
// no configuration files beside it are read. tokenizer_gguf.cc builds such a document.
Status LoadTokenizerJsonObject(const nlohmann::json& j, const std::string& where, Tokenizer::Impl* impl);

}  // namespace t81::text
