// Tokenizer::Load: reads tokenizer.json, vocab.json + merges.txt or encoder.json + vocab.bpe, and
// tokenizer_config.json / config.json beside them, into a Tokenizer::Impl, checking every entry.
// Owns the mapping from Hugging Face's configuration (normalizer, pre_tokenizer, model,
// post_processor, decoder, added_tokens) to t81's pipeline steps; anything outside the supported
// subset is an error naming the file and the entry, never a silent approximation.
#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "t81/base/json_limits.h"
#include "t81/base/file.h"
#include "t81/io/gguf.h"
#include "t81/io/json_fields.h"
#include "t81/text/tokenizer_loader.h"
#include "t81/text/utf8.h"

namespace t81::text {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const std::array<char32_t, 256>& ByteToUnicode() {
  static const std::array<char32_t, 256> map = [] {
    std::array<char32_t, 256> m{};
    char32_t n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      m[size_t(b)] = printable ? char32_t(b) : 0x100 + n++;
    }
    return m;
  }();
  return map;
}

int UnicodeToByte(char32_t cp) {
  static const std::array<int16_t, 0x144> inv = [] {
    std::array<int16_t, 0x144> m;
    m.fill(-1);
    for (int b = 0; b < 256; ++b) m[ByteToUnicode()[size_t(b)]] = int16_t(b);
    return m;
  }();
  return cp < inv.size() ? inv[cp] : -1;
}

namespace load {

std::string Quote(std::string_view s) {
  size_t n = s.size();
  if (n > 60) {
    n = 60;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  }
  std::string q = "'";
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      static const char* kHex = "0123456789ABCDEF";
      q += std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
    } else {
      q += char(c);
    }
  }
  if (n < s.size()) q += "...";
  return q + "'";
}

namespace {

Result<Json> ReadJson(const std::string& path) {
  T81_ASSIGN_OR_RETURN(std::string text, base::ReadFile(path, base::kMaxJsonBytes));
  T81_RETURN_IF_ERROR(base::CheckJsonLimits(text, path));
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) return Error(path + ": not valid JSON");
  if (!j.is_object()) return Error(path + ": not a JSON object");
  return j;
}

// obj[key] when present and not null.
const Json* Field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

Result<int32_t> ReadId(const Json& v, const std::string& where) {
  if (!v.is_number_integer()) return Error(where + ": id must be an integer");
  if (v.is_number_unsigned() ? v.get<uint64_t>() >= uint64_t(kMaxVocab) : (v.get<int64_t>() < 0 || v.get<int64_t>() >= kMaxVocab))
    return Error(where + ": id " + v.dump() + " is out of range [0, " + std::to_string(kMaxVocab) + ")");
  return int32_t(v.get<int64_t>());
}

// A special-token field of tokenizer_config.json: a string, an AddedToken object or null.
Result<std::optional<std::string>> TokenName(const Json& cfg, const char* key, const std::string& path) {
  const Json* v = Field(cfg, key);
  if (!v) return std::optional<std::string>();
  if (v->is_string()) return std::optional<std::string>(v->get<std::string>());
  if (v->is_object()) {
    const Json* c = Field(*v, "content");
    if (c && c->is_string()) return std::optional<std::string>(c->get<std::string>());
  }
  return Error(path + ": field '" + key + "' must be a string or an object with 'content'");
}

Result<PrependScheme> ReadPrependScheme(const Json& o, const std::string& where) {
  if (const Json* ps = Field(o, "prepend_scheme")) {
    if (!ps->is_string()) return Error(where + ": prepend_scheme must be a string");
    const std::string s = ps->get<std::string>();
    if (s == "always") return PrependScheme::kAlways;
    if (s == "first") return PrependScheme::kFirst;
    if (s == "never") return PrependScheme::kNever;
    return Error(where + ": prepend_scheme " + Quote(s) + " is not always, first or never");
  }
  T81_ASSIGN_OR_RETURN(const bool add, io::JsonFields(o, where).Bool("add_prefix_space", true));
  return add ? PrependScheme::kAlways : PrependScheme::kNever;
}

// Split/Replace patterns: {"String": s} or {"Regex": s}.
Result<std::pair<std::string, bool>> ReadPattern(const Json& o, const std::string& where) {
  const Json* p = Field(o, "pattern");
  if (!p || !p->is_object()) return Error(where + ": missing object 'pattern'");
  if (const Json* s = Field(*p, "String"); s && s->is_string()) return std::pair{s->get<std::string>(), true};
  if (const Json* r = Field(*p, "Regex"); r && r->is_string()) return std::pair{r->get<std::string>(), false};
  return Error(where + ": pattern must have a string 'String' or 'Regex'");
}

}  // namespace


Status Loader::ReadVocabObject(const Json& v, const std::string& where) {
  if (!v.is_object()) return Error(where + ": must be an object of token -> id");
  vocab_where_ = where;
  vocab_.reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    T81_ASSIGN_OR_RETURN(const int32_t id, ReadId(it.value(), where + "[" + Quote(it.key()) + "]"));
    vocab_.emplace_back(it.key(), id);
  }
  if (vocab_.empty()) return Error(where + ": empty vocabulary");
  return OkStatus();
}

Status Loader::ReadAddedToken(const Json& a, int32_t id, const std::string& where) {
  if (!a.is_object()) return Error(where + ": must be an object");
  io::JsonFields f(a, where);
  AddedToken tok;
  T81_ASSIGN_OR_RETURN(tok.content, f.String("content"));
  if (tok.content.empty()) return Error(where + ": empty 'content'");
  if (FindInvalidUtf8(tok.content) != std::string::npos) return Error(where + ": 'content' is not valid UTF-8");
  tok.id = id;
  T81_ASSIGN_OR_RETURN(tok.special, f.Bool("special", false));
  T81_ASSIGN_OR_RETURN(tok.lstrip, f.Bool("lstrip", false));
  T81_ASSIGN_OR_RETURN(tok.rstrip, f.Bool("rstrip", false));
  T81_ASSIGN_OR_RETURN(tok.single_word, f.Bool("single_word", false));
  T81_ASSIGN_OR_RETURN(tok.normalized, f.Bool("normalized", !tok.special));
  for (size_t i = 0; i < t_->added.size(); ++i) {
    const AddedToken& o = t_->added[i];
    if (o.id == id && o.content == tok.content) return OkStatus();  // listed twice (config + tokenizer.json)
    if (o.id == id) return Error(where + ": id " + std::to_string(id) + " is given to both " + Quote(o.content) + " and " + Quote(tok.content));
    if (o.content == tok.content)
      return Error(where + ": " + Quote(tok.content) + " has two ids, " + std::to_string(o.id) + " and " + std::to_string(id));
  }
  t_->added.push_back(std::move(tok));
  added_where_.push_back(where);
  return OkStatus();
}

Status Loader::ReadNormalizer(const Json& n, const std::string& where) {
  T81_ASSIGN_OR_RETURN(const std::string type, io::JsonFields(n, where).String("type"));
  if (type == "Sequence") {
    const Json* list = Field(n, "normalizers");
    if (!list || !list->is_array()) return Error(where + ": Sequence needs an array 'normalizers'");
    for (size_t i = 0; i < list->size(); ++i) T81_RETURN_IF_ERROR(ReadNormalizer((*list)[i], where + ".normalizers[" + std::to_string(i) + "]"));
    return OkStatus();
  }
  if (type == "Prepend") {
    NormStep s{NormStep::kPrepend, {}, {}};
    T81_ASSIGN_OR_RETURN(s.a, io::JsonFields(n, where).String("prepend"));
    t_->normalizers.push_back(std::move(s));
    return OkStatus();
  }
  if (type == "Replace") {
    T81_ASSIGN_OR_RETURN(auto pat, ReadPattern(n, where));
    if (!pat.second) return Error(where + ": Replace with a Regex pattern is not supported");
    if (pat.first.empty()) return Error(where + ": Replace with an empty pattern");
    NormStep s{NormStep::kReplace, pat.first, {}};
    T81_ASSIGN_OR_RETURN(s.b, io::JsonFields(n, where).String("content"));
    t_->normalizers.push_back(std::move(s));
    return OkStatus();
  }
  return Error(where + ": normalizer type " + Quote(type) + " is not supported (Prepend, Replace, Sequence)");
}

Status Loader::ReadPreTokenizer(const Json& p, const std::string& where) {
  io::JsonFields f(p, where);
  T81_ASSIGN_OR_RETURN(const std::string type, f.String("type"));
  if (type == "Sequence") {
    const Json* list = Field(p, "pretokenizers");
    if (!list || !list->is_array()) return Error(where + ": Sequence needs an array 'pretokenizers'");
    for (size_t i = 0; i < list->size(); ++i)
      T81_RETURN_IF_ERROR(ReadPreTokenizer((*list)[i], where + ".pretokenizers[" + std::to_string(i) + "]"));
    return OkStatus();
  }
  if (!t_->pre.empty() && t_->pre.back().kind == PreStep::kByteLevel)
    return Error(where + ": a pre-tokenizer after ByteLevel is not supported");
  PreStep s;
  if (type == "ByteLevel") {
    s.kind = PreStep::kByteLevel;
    T81_ASSIGN_OR_RETURN(s.add_prefix_space, f.Bool("add_prefix_space", true));
    T81_ASSIGN_OR_RETURN(const bool use_regex, f.Bool("use_regex", true));
    if (use_regex) {
      T81_ASSIGN_OR_RETURN(s.re, Regex::Compile(kGpt2Pattern, false, where));
      s.has_re = true;
      if (t_->pre_regex.empty()) t_->pre_regex = kGpt2Pattern;
    }
  } else if (type == "Split") {
    s.kind = PreStep::kSplit;
    T81_ASSIGN_OR_RETURN(auto pat, ReadPattern(p, where));
    T81_ASSIGN_OR_RETURN(const bool invert, f.Bool("invert", false));
    if (invert) return Error(where + ": Split with invert is not supported");
    T81_ASSIGN_OR_RETURN(const std::string behavior, f.String("behavior", "Isolated"));
    if (behavior != "Isolated" && behavior != "Removed")
      return Error(where + ": Split behavior " + Quote(behavior) + " is not supported (Isolated, Removed)");
    s.drop_matches = behavior == "Removed";
    T81_ASSIGN_OR_RETURN(s.re, Regex::Compile(pat.first, pat.second, where + ".pattern"));
    s.has_re = true;
    if (!pat.second) t_->pre_regex = pat.first;
  } else if (type == "Metaspace") {
    s.kind = PreStep::kMetaspace;
    T81_ASSIGN_OR_RETURN(s.replacement, f.String("replacement", "\xE2\x96\x81"));
    if (s.replacement.empty() || FindInvalidUtf8(s.replacement) != std::string::npos) return Error(where + ": bad 'replacement'");
    T81_ASSIGN_OR_RETURN(s.prepend, ReadPrependScheme(p, where));
    T81_ASSIGN_OR_RETURN(s.split, f.Bool("split", true));
  } else {
    return Error(where + ": pre_tokenizer type " + Quote(type) + " is not supported (ByteLevel, Split, Metaspace, Sequence)");
  }
  t_->pre.push_back(std::move(s));
  return OkStatus();
}

Status Loader::ReadDecoder(const Json& d, const std::string& where) {
  io::JsonFields f(d, where);
  T81_ASSIGN_OR_RETURN(const std::string type, f.String("type"));
  DecStep s;
  if (type == "Sequence") {
    const Json* list = Field(d, "decoders");
    if (!list || !list->is_array()) return Error(where + ": Sequence needs an array 'decoders'");
    for (size_t i = 0; i < list->size(); ++i) T81_RETURN_IF_ERROR(ReadDecoder((*list)[i], where + ".decoders[" + std::to_string(i) + "]"));
    return OkStatus();
  } else if (type == "ByteLevel") {
    s.kind = DecStep::kByteLevel;
  } else if (type == "Replace") {
    s.kind = DecStep::kReplace;
    T81_ASSIGN_OR_RETURN(auto pat, ReadPattern(d, where));
    if (!pat.second) return Error(where + ": Replace with a Regex pattern is not supported");
    if (pat.first.empty()) return Error(where + ": Replace with an empty pattern");
    s.a = pat.first;
    T81_ASSIGN_OR_RETURN(s.b, f.String("content"));
  } else if (type == "ByteFallback") {
    s.kind = DecStep::kByteFallback;
  } else if (type == "Fuse") {
    s.kind = DecStep::kFuse;
  } else if (type == "Strip") {
    s.kind = DecStep::kStrip;
    T81_ASSIGN_OR_RETURN(s.a, f.String("content"));
    if (s.a.empty() || FindInvalidUtf8(s.a) != std::string::npos || size_t(Utf8Len(static_cast<unsigned char>(s.a[0]))) != s.a.size())
      return Error(where + ": Strip 'content' must be one character");
    T81_ASSIGN_OR_RETURN(const double start, f.Number("start", 0));
    T81_ASSIGN_OR_RETURN(const double stop, f.Number("stop", 0));
    if (start < 0 || stop < 0 || start > 1e6 || stop > 1e6) return Error(where + ": Strip start/stop out of range");
    s.start = int(start);
    s.stop = int(stop);
  } else if (type == "Metaspace") {
    s.kind = DecStep::kMetaspace;
    T81_ASSIGN_OR_RETURN(s.a, f.String("replacement", "\xE2\x96\x81"));
    if (s.a.empty()) return Error(where + ": empty 'replacement'");
    T81_ASSIGN_OR_RETURN(s.prepend, ReadPrependScheme(d, where));
  } else {
    return Error(where + ": decoder type " + Quote(type) +
                 " is not supported (ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence)");
  }
  t_->dec.push_back(std::move(s));
  return OkStatus();
}

Status Loader::ReadPostProcessor(const Json& p, const std::string& where) {
  io::JsonFields f(p, where);
  T81_ASSIGN_OR_RETURN(const std::string type, f.String("type"));
  if (type == "ByteLevel") return OkStatus();  // offsets only
  if (type == "Sequence") {
    const Json* list = Field(p, "processors");
    if (!list || !list->is_array()) return Error(where + ": Sequence needs an array 'processors'");
    for (size_t i = 0; i < list->size(); ++i)
      T81_RETURN_IF_ERROR(ReadPostProcessor((*list)[i], where + ".processors[" + std::to_string(i) + "]"));
    return OkStatus();
  }
  if (has_post_ids_) return Error(where + ": more than one post-processor adds tokens");
  has_post_ids_ = true;
  if (type == "TemplateProcessing") {
    const Json* single = Field(p, "single");
    const Json* specials = Field(p, "special_tokens");
    if (!single || !single->is_array()) return Error(where + ": missing array 'single'");
    bool seen_a = false;
    for (size_t i = 0; i < single->size(); ++i) {
      const std::string w = where + ".single[" + std::to_string(i) + "]";
      const Json& piece = (*single)[i];
      if (!piece.is_object()) return Error(w + ": must be an object");
      if (const Json* seq = Field(piece, "Sequence")) {
        const Json* sid = seq->is_object() ? Field(*seq, "id") : nullptr;
        if (!sid || !sid->is_string() || sid->get<std::string>() != "A")
          return Error(w + ": only Sequence 'A' may appear in 'single'");
        if (seen_a) return Error(w + ": Sequence 'A' appears twice");
        seen_a = true;
        continue;
      }
      const Json* sp = Field(piece, "SpecialToken");
      if (!sp || !sp->is_object()) return Error(w + ": must be a SpecialToken or a Sequence");
      T81_ASSIGN_OR_RETURN(const std::string name, io::JsonFields(*sp, w + ".SpecialToken").String("id"));
      const Json* entry = specials && specials->is_object() ? Field(*specials, name.c_str()) : nullptr;
      const Json* ids = entry && entry->is_object() ? Field(*entry, "ids") : nullptr;
      if (!ids || !ids->is_array()) return Error(w + ": special token " + Quote(name) + " has no 'ids' in 'special_tokens'");
      for (size_t k = 0; k < ids->size(); ++k) {
        const std::string wk = where + ".special_tokens[" + Quote(name) + "].ids[" + std::to_string(k) + "]";
        T81_ASSIGN_OR_RETURN(const int32_t id, ReadId((*ids)[k], wk));
        (seen_a ? post_suffix_ : post_prefix_).emplace_back(id, wk);
      }
    }
    if (!seen_a) return Error(where + ": 'single' has no Sequence 'A'");
    return OkStatus();
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    for (const char* key : {"cls", "sep"}) {
      const Json* v = Field(p, key);
      if (!v || !v->is_array() || v->size() != 2) return Error(where + ": '" + key + "' must be [token, id]");
      T81_ASSIGN_OR_RETURN(const int32_t id, ReadId((*v)[1], where + "." + key));
      (std::string(key) == "cls" ? post_prefix_ : post_suffix_).emplace_back(id, where + "." + key);
    }
    return OkStatus();
  }
  return Error(where + ": post_processor type " + Quote(type) + " is not supported (TemplateProcessing, ByteLevel, Sequence)");
}

Status Loader::ReadTokenizerJson(const std::string& path) {
  T81_ASSIGN_OR_RETURN(const Json j, ReadJson(path));
  return ReadTokenizerJsonObject(j, path);
}

Status Loader::ReadTokenizerJsonObject(const Json& j, const std::string& path) {
  from_tokenizer_json_ = true;
  const Json* model = Field(j, "model");
  if (!model || !model->is_object()) return Error(path + ": missing object 'model'");
  model_where_ = path + ": model";
  io::JsonFields m(*model, model_where_);
  T81_ASSIGN_OR_RETURN(const std::string type, m.String("type", "BPE"));
  if (type != "BPE") return Error(model_where_ + ": type " + Quote(type) + " is not supported (BPE only)");
  const Json* vocab = Field(*model, "vocab");
  if (!vocab) return Error(model_where_ + ": missing field 'vocab'");
  T81_RETURN_IF_ERROR(ReadVocabObject(*vocab, path + ": model.vocab"));
  const Json* merges = Field(*model, "merges");
  if (!merges || !merges->is_array()) return Error(model_where_ + ": missing array 'merges'");
  merges_where_ = path + ": model.merges";
  merges_.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const Json& e = (*merges)[i];
    if (e.is_string()) {
      const std::string s = e.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 == s.size() || s.find(' ', sp + 1) != std::string::npos)
        return Error(MergeWhere(i) + ": " + Quote(s) + " is not two tokens separated by one space");
      merges_.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      merges_.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
    } else {
      return Error(MergeWhere(i) + ": must be \"a b\" or [\"a\", \"b\"]");
    }
  }
  T81_ASSIGN_OR_RETURN(t_->byte_fallback, m.Bool("byte_fallback", false));
  T81_ASSIGN_OR_RETURN(t_->fuse_unk, m.Bool("fuse_unk", false));
  T81_ASSIGN_OR_RETURN(t_->ignore_merges, m.Bool("ignore_merges", false));
  T81_ASSIGN_OR_RETURN(const double dropout, m.Number("dropout", 0));
  if (dropout != 0) return Error(model_where_ + ": BPE dropout is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    T81_ASSIGN_OR_RETURN(const std::string v, m.String(key, ""));
    if (!v.empty()) return Error(model_where_ + ": '" + key + "' is not supported");
  }
  if (m.Has("unk_token")) {
    T81_ASSIGN_OR_RETURN(const std::string unk, m.String("unk_token"));
    model_unk_ = unk;
  }
  if (const Json* added = Field(j, "added_tokens")) {
    if (!added->is_array()) return Error(path + ": 'added_tokens' must be an array");
    for (size_t i = 0; i < added->size(); ++i) {
      const std::string w = path + ": added_tokens[" + std::to_string(i) + "]";
      const Json& a = (*added)[i];
      const Json* id = a.is_object() ? Field(a, "id") : nullptr;
      if (!id) return Error(w + ": missing field 'id'");
      T81_ASSIGN_OR_RETURN(const int32_t v, ReadId(*id, w));
      T81_RETURN_IF_ERROR(ReadAddedToken(a, v, w));
    }
  }
  if (const Json* n = Field(j, "normalizer")) T81_RETURN_IF_ERROR(ReadNormalizer(*n, path + ": normalizer"));
  if (const Json* p = Field(j, "pre_tokenizer")) T81_RETURN_IF_ERROR(ReadPreTokenizer(*p, path + ": pre_tokenizer"));
  const bool byte_level = !t_->pre.empty() && t_->pre.back().kind == PreStep::kByteLevel;
  t_->kind = byte_level ? TokenizerKind::kByteLevel : TokenizerKind::kSentencePiece;
  if (const Json* d = Field(j, "decoder")) {
    T81_RETURN_IF_ERROR(ReadDecoder(*d, path + ": decoder"));
  } else if (byte_level) {
    t_->dec.push_back(DecStep{DecStep::kByteLevel, {}, {}, 0, 0, PrependScheme::kAlways});
  } else {
    return Error(path + ": missing 'decoder'");
  }
  const bool byte_decoder = std::any_of(t_->dec.begin(), t_->dec.end(), [](const DecStep& s) { return s.kind == DecStep::kByteLevel; });
  if (byte_decoder != byte_level) return Error(path + ": the decoder and the pre_tokenizer disagree about ByteLevel");
  if (const Json* p = Field(j, "post_processor")) T81_RETURN_IF_ERROR(ReadPostProcessor(*p, path + ": post_processor"));
  return OkStatus();
}

Status Loader::ReadVocabMerges(const std::string& vocab_path, const std::string& merges_path) {
  T81_ASSIGN_OR_RETURN(const Json v, ReadJson(vocab_path));
  T81_RETURN_IF_ERROR(ReadVocabObject(v, vocab_path));
  T81_ASSIGN_OR_RETURN(const std::string text, base::ReadFile(merges_path, base::kMaxJsonBytes));
  merges_where_ = merges_path;
  size_t pos = 0;
  int32_t line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.substr(0, 8) == "#version")) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == line.size() || line.find(' ', sp + 1) != std::string::npos)
      return Error(merges_path + ": line " + std::to_string(line_no) + ": " + Quote(line) + " is not two tokens separated by one space");
    merges_.emplace_back(std::string(line.substr(0, sp)), std::string(line.substr(sp + 1)));
    merge_lines_.push_back(line_no);
  }
  t_->kind = TokenizerKind::kByteLevel;
  PreStep s;
  s.kind = PreStep::kByteLevel;
  T81_ASSIGN_OR_RETURN(s.re, Regex::Compile(kGpt2Pattern, false, vocab_path));
  s.has_re = true;
  t_->pre.push_back(std::move(s));
  t_->pre_regex = kGpt2Pattern;
  t_->dec.push_back(DecStep{DecStep::kByteLevel, {}, {}, 0, 0, PrependScheme::kAlways});
  return OkStatus();
}

Status Loader::ReadConfigs(const fs::path& dir) {
  std::error_code ec;
  const fs::path cfg = dir / "tokenizer_config.json";
  if (fs::exists(cfg, ec)) {
    cfg_path_ = cfg.string();
    T81_ASSIGN_OR_RETURN(const Json c, ReadJson(cfg_path_));
    T81_ASSIGN_OR_RETURN(cfg_bos_, TokenName(c, "bos_token", cfg_path_));
    T81_ASSIGN_OR_RETURN(cfg_eos_, TokenName(c, "eos_token", cfg_path_));
    T81_ASSIGN_OR_RETURN(cfg_unk_, TokenName(c, "unk_token", cfg_path_));
    T81_ASSIGN_OR_RETURN(cfg_pad_, TokenName(c, "pad_token", cfg_path_));
    io::JsonFields f(c, cfg_path_);
    if (f.Has("add_bos_token")) {
      T81_ASSIGN_OR_RETURN(cfg_add_bos_, f.Bool("add_bos_token", false));
    }
    if (f.Has("add_eos_token")) {
      T81_ASSIGN_OR_RETURN(cfg_add_eos_, f.Bool("add_eos_token", false));
    }
    // tokenizer.json lists its added tokens itself; for vocab.json / encoder.json they are here.
    if (!from_tokenizer_json_) {
      if (const Json* dec = Field(c, "added_tokens_decoder")) {
        if (!dec->is_object()) return Error(cfg_path_ + ": 'added_tokens_decoder' must be an object");
        for (auto it = dec->begin(); it != dec->end(); ++it) {
          const std::string w = cfg_path_ + ": added_tokens_decoder[" + Quote(it.key()) + "]";
          const std::string& k = it.key();
          if (k.empty() || k.size() > 8 || !std::all_of(k.begin(), k.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
            return Error(w + ": key must be a token id");
          T81_ASSIGN_OR_RETURN(const int32_t id, ReadId(Json(std::stoll(k)), w));
          T81_RETURN_IF_ERROR(ReadAddedToken(it.value(), id, w));
        }
      }
    }
  }
  const fs::path cj = dir / "config.json";
  if (fs::exists(cj, ec)) {
    cfgj_path_ = cj.string();
    T81_ASSIGN_OR_RETURN(const Json c, ReadJson(cfgj_path_));
    const auto id_field = [&](const char* key) -> Result<std::optional<int32_t>> {
      const Json* v = Field(c, key);
      if (!v) return std::optional<int32_t>();
      if (v->is_array()) {  // e.g. Llama 3.1's eos_token_id list: the first one
        if (v->empty()) return std::optional<int32_t>();
        v = &(*v)[0];
      }
      T81_ASSIGN_OR_RETURN(const int32_t id, ReadId(*v, cfgj_path_ + ": " + key));
      return std::optional<int32_t>(id);
    };
    T81_ASSIGN_OR_RETURN(cfgj_bos_, id_field("bos_token_id"));
    T81_ASSIGN_OR_RETURN(cfgj_eos_, id_field("eos_token_id"));
    T81_ASSIGN_OR_RETURN(cfgj_pad_, id_field("pad_token_id"));
  }
  return OkStatus();
}

}  // namespace load


Status LoadTokenizerJsonObject(const Json& j, const std::string& where, Tokenizer::Impl* impl) {
  impl->path = where;
  load::Loader loader(impl);
  T81_RETURN_IF_ERROR(loader.ReadTokenizerJsonObject(j, where));
  return loader.Finish();
}

Result<Tokenizer> Tokenizer::Load(const fs::path& dir_or_file) {
  std::error_code ec;
  const std::string p = dir_or_file.string();
  if (!fs::exists(dir_or_file, ec)) return Error(p + ": no such file or folder");
  fs::path tok_json, vocab, merges, dir;
  if (fs::is_directory(dir_or_file, ec)) {
    dir = dir_or_file;
    if (fs::exists(dir / "tokenizer.json", ec)) {
      tok_json = dir / "tokenizer.json";
    } else if (fs::exists(dir / "vocab.json", ec) && fs::exists(dir / "merges.txt", ec)) {
      vocab = dir / "vocab.json";
      merges = dir / "merges.txt";
    } else if (fs::exists(dir / "encoder.json", ec) && fs::exists(dir / "vocab.bpe", ec)) {
      vocab = dir / "encoder.json";
      merges = dir / "vocab.bpe";
    } else {
      return Error(p + ": no tokenizer.json, vocab.json + merges.txt or encoder.json + vocab.bpe");
    }
  } else {
    dir = dir_or_file.parent_path();
    if (dir.empty()) dir = ".";
    const std::string name = dir_or_file.filename().string();
    const std::string ext = dir_or_file.extension().string();
    if (ext == ".gguf") {
      T81_ASSIGN_OR_RETURN(auto f, io::GgufFile::Open(p));
      return FromGguf(*f);
    }
    const std::map<std::string, std::pair<const char*, const char*>> pairs = {
        {"vocab.json", {"vocab.json", "merges.txt"}}, {"merges.txt", {"vocab.json", "merges.txt"}},
        {"encoder.json", {"encoder.json", "vocab.bpe"}}, {"vocab.bpe", {"encoder.json", "vocab.bpe"}}};
    if (auto it = pairs.find(name); it != pairs.end()) {
      vocab = dir / it->second.first;
      merges = dir / it->second.second;
      const fs::path other = name == it->second.first ? merges : vocab;
      if (!fs::exists(other, ec)) return Error(p + ": " + other.string() + " is missing beside it");
    } else if (ext == ".json") {
      tok_json = dir_or_file;
    } else {
      return Error(p + ": not a tokenizer file (tokenizer.json, vocab.json, merges.txt, encoder.json, vocab.bpe)");
    }
  }
  auto impl = std::make_unique<Impl>();
  load::Loader loader(impl.get());
  if (!tok_json.empty()) {
    impl->path = tok_json.string();
    T81_RETURN_IF_ERROR(loader.ReadTokenizerJson(impl->path));
  } else {
    impl->path = vocab.string();
    T81_RETURN_IF_ERROR(loader.ReadVocabMerges(vocab.string(), merges.string()));
  }
  T81_RETURN_IF_ERROR(loader.ReadConfigs(dir));
  T81_RETURN_IF_ERROR(loader.Finish());
  return Tokenizer(std::move(impl));
}

}  // namespace t81::text
