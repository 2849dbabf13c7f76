// Loader::Finish: the whole of what was read, checked and assembled into a Tokenizer::Impl — the
// id table (vocabulary and added tokens, each id once, 0..V-1), merges by rank, special ids and
// the post-processor's ids, and the word-cutting and added-token matchers.
#include <algorithm>

#include "t81/text/tokenizer_loader.h"
#include "t81/text/utf8.h"

namespace t81::text::load {

Status Loader::Finish() {
  Tokenizer::Impl& t = *t_;
  StrMap<int32_t> model_vocab;
  model_vocab.reserve(vocab_.size());
  for (const auto& [tok, id] : vocab_) model_vocab.emplace(tok, id);

  // vocab.json / encoder.json: the special tokens tokenizer_config.json names are added tokens.
  if (!from_tokenizer_json_) {
    for (const auto& name : {cfg_bos_, cfg_eos_, cfg_unk_, cfg_pad_}) {
      if (!name) continue;
      auto it = model_vocab.find(*name);
      if (it == model_vocab.end()) return Error(cfg_path_ + ": special token " + Quote(*name) + " is not in the vocabulary");
      const bool known = std::any_of(t.added.begin(), t.added.end(), [&](const AddedToken& a) { return a.content == *name; });
      if (!known) {
        t.added.push_back(AddedToken{*name, it->second, true, false, false, false, false});
        added_where_.push_back(cfg_path_);
      }
    }
  }

  // The id table: vocabulary and added tokens, each id exactly once, 0..V-1 without gaps.
  int64_t V = 0;
  for (const auto& e : vocab_) V = std::max<int64_t>(V, int64_t(e.second) + 1);
  for (const AddedToken& a : t.added) V = std::max<int64_t>(V, int64_t(a.id) + 1);
  t.tokens.assign(size_t(V), std::string());
  std::vector<uint8_t> have(size_t(V), 0);
  t.is_added.assign(size_t(V), 0);
  t.is_special.assign(size_t(V), 0);
  for (const auto& [tok, id] : vocab_) {
    if (have[size_t(id)])
      return Error(vocab_where_ + ": id " + std::to_string(id) + " is given to both " + Quote(t.tokens[size_t(id)]) + " and " + Quote(tok));
    have[size_t(id)] = 1;
    t.tokens[size_t(id)] = tok;
  }
  for (size_t i = 0; i < t.added.size(); ++i) {
    const AddedToken& a = t.added[i];
    if (have[size_t(a.id)] && t.tokens[size_t(a.id)] != a.content && !t.is_added[size_t(a.id)])
      return Error(added_where_[i] + ": " + Quote(a.content) + " has id " + std::to_string(a.id) + ", which the vocabulary gives to " +
                   Quote(t.tokens[size_t(a.id)]));
    have[size_t(a.id)] = 1;
    t.tokens[size_t(a.id)] = a.content;
    t.is_added[size_t(a.id)] = 1;
    t.is_special[size_t(a.id)] = a.special;
  }
  for (int64_t id = 0; id < V; ++id)
    if (!have[size_t(id)])
      return Error(vocab_where_ + ": no token has id " + std::to_string(id) + " (ids must run from 0 to " + std::to_string(V - 1) +
                   " without gaps)");
  StrMap<int32_t> all_ids = model_vocab;
  for (const AddedToken& a : t.added) all_ids[a.content] = a.id;

  // The model's view of the vocabulary and the byte tables.
  const bool byte_level = t.kind == TokenizerKind::kByteLevel;
  t.byte_ids.fill(-1);
  if (byte_level) {
    t.token_bytes.assign(size_t(V), std::string());
    for (const auto& [tok, id] : vocab_) {
      std::string bytes;
      bool ok = true;
      for (size_t i = 0; i < tok.size() && ok;) {
        int len;
        const int b = UnicodeToByte(DecodeUtf8At(tok, i, &len));
        i += size_t(len);
        if (b < 0) ok = false;
        else bytes.push_back(char(b));
      }
      t.token_bytes[size_t(id)] = ok ? bytes : tok;
      if (ok) t.piece_to_id.emplace(std::move(bytes), id);
    }
    for (const AddedToken& a : t.added) t.token_bytes[size_t(a.id)] = a.content;
    for (int b = 0; b < 256; ++b) {
      std::string ch;
      AppendUtf8(&ch, ByteToUnicode()[size_t(b)]);
      if (auto it = model_vocab.find(ch); it != model_vocab.end()) t.byte_ids[size_t(b)] = it->second;
    }
  } else {
    for (int b = 0; b < 256; ++b) {
      static const char* kHex = "0123456789ABCDEF";
      const std::string name = std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">";
      if (auto it = model_vocab.find(name); it != model_vocab.end()) t.byte_ids[size_t(b)] = it->second;
    }
    t.piece_to_id = model_vocab;
  }

  // Merges: both sides and the result must be in the vocabulary. A pair listed twice keeps its
  // last rank (as Hugging Face and GPT-2's encoder do).
  t.scores.assign(size_t(V), 0.0f);
  std::vector<uint8_t> scored(size_t(V), 0);
  t.merge_map.reserve(merges_.size());
  for (size_t i = 0; i < merges_.size(); ++i) {
    const auto& [a, b] = merges_[i];
    auto ia = model_vocab.find(a), ib = model_vocab.find(b);
    if (ia == model_vocab.end()) return Error(MergeWhere(i) + ": " + Quote(a + " " + b) + " names " + Quote(a) + ", which is not in the vocabulary");
    if (ib == model_vocab.end()) return Error(MergeWhere(i) + ": " + Quote(a + " " + b) + " names " + Quote(b) + ", which is not in the vocabulary");
    auto im = model_vocab.find(a + b);
    if (im == model_vocab.end())
      return Error(MergeWhere(i) + ": " + Quote(a + " " + b) + " makes " + Quote(a + b) + ", which is not in the vocabulary");
    t.merge_map[uint64_t(uint32_t(ia->second)) << 32 | uint32_t(ib->second)] = MergeInfo{int32_t(i), im->second};
    if (!byte_level && !scored[size_t(im->second)]) {
      scored[size_t(im->second)] = 1;
      t.scores[size_t(im->second)] = -float(i);
    }
  }
  t.merges = std::move(merges_);

  // Special ids: tokenizer_config.json names them; else config.json's ids; else the
  // post-processor's tokens; GPT-2's files (no configuration) use <|endoftext|>.
  const auto resolve = [&](const std::optional<std::string>& name, const std::string& where, int32_t* id) -> Status {
    if (!name) return OkStatus();
    auto it = all_ids.find(*name);
    if (it == all_ids.end()) return Error(where + ": " + Quote(*name) + " is not in the vocabulary");
    *id = it->second;
    return OkStatus();
  };
  T81_RETURN_IF_ERROR(resolve(model_unk_, model_where_ + ".unk_token", &t.unk));
  T81_RETURN_IF_ERROR(resolve(cfg_unk_, cfg_path_ + ": unk_token", &t.unk));
  T81_RETURN_IF_ERROR(resolve(cfg_bos_, cfg_path_ + ": bos_token", &t.bos));
  T81_RETURN_IF_ERROR(resolve(cfg_eos_, cfg_path_ + ": eos_token", &t.eos));
  T81_RETURN_IF_ERROR(resolve(cfg_pad_, cfg_path_ + ": pad_token", &t.pad));
  const auto config_id = [&](const std::optional<int32_t>& v, const char* key, int32_t* id) -> Status {
    if (!v || *id >= 0) return OkStatus();
    if (*v >= V) return Error(cfgj_path_ + ": " + key + " " + std::to_string(*v) + " is out of range (vocabulary size " + std::to_string(V) + ")");
    *id = *v;
    return OkStatus();
  };
  T81_RETURN_IF_ERROR(config_id(cfgj_bos_, "bos_token_id", &t.bos));
  T81_RETURN_IF_ERROR(config_id(cfgj_eos_, "eos_token_id", &t.eos));
  T81_RETURN_IF_ERROR(config_id(cfgj_pad_, "pad_token_id", &t.pad));
  for (const auto& [id, where] : post_prefix_) {
    if (id >= V) return Error(where + ": id " + std::to_string(id) + " is out of range (vocabulary size " + std::to_string(V) + ")");
    t.prefix.push_back(id);
  }
  for (const auto& [id, where] : post_suffix_) {
    if (id >= V) return Error(where + ": id " + std::to_string(id) + " is out of range (vocabulary size " + std::to_string(V) + ")");
    t.suffix.push_back(id);
  }
  if (t.bos < 0 && !t.prefix.empty()) t.bos = t.prefix.front();
  if (t.eos < 0 && !t.suffix.empty()) t.eos = t.suffix.back();
  if (!from_tokenizer_json_) {
    if (auto it = model_vocab.find("<|endoftext|>"); it != model_vocab.end()) {
      if (t.bos < 0) t.bos = it->second;
      if (t.eos < 0) t.eos = it->second;
    }
    if (cfg_add_bos_.value_or(false) && t.bos >= 0) t.prefix.push_back(t.bos);
    if (cfg_add_eos_.value_or(false) && t.eos >= 0) t.suffix.push_back(t.eos);
  }

  // Token types (GGUF).
  t.types.assign(size_t(V), TokenType::kNormal);
  if (!byte_level)
    for (int b = 0; b < 256; ++b)
      if (t.byte_ids[size_t(b)] >= 0) t.types[size_t(t.byte_ids[size_t(b)])] = TokenType::kByte;
  for (const AddedToken& a : t.added) t.types[size_t(a.id)] = a.special ? TokenType::kControl : TokenType::kUserDefined;
  if (t.unk >= 0) t.types[size_t(t.unk)] = TokenType::kUnknown;

  // The space symbol of a SentencePiece tokenizer (normalizer Replace " " -> X, or Metaspace),
  // if cutting words before it is exact: X is a token, no token has another character before X,
  // and no ignore_merges (whole-word lookups).
  if (!byte_level && !t.ignore_merges) {
    std::string x;
    for (const NormStep& n : t.normalizers)
      if (n.kind == NormStep::kReplace && n.a == " ") x = n.b;
    for (const PreStep& p : t.pre)
      if (p.kind == PreStep::kMetaspace) x = p.replacement;
    bool exact = !x.empty() && model_vocab.count(x) > 0;
    for (const auto& [tok, id] : vocab_) {
      if (!exact) break;
      for (size_t f = tok.find(x, 1); f != std::string::npos && exact; f = tok.find(x, f + 1))
        if (f < x.size() || tok.compare(f - x.size(), x.size(), x) != 0) exact = false;
    }
    if (exact) t.cut_before = x;
  }

  for (size_t i = 0; i < t.added.size(); ++i) t.matcher.Add(t.added[i].content, int32_t(i));
  t.plain_byte_decoder = t.dec.size() == 1 && t.dec[0].kind == DecStep::kByteLevel;
  return OkStatus();
}

}  // namespace t81::text::load
