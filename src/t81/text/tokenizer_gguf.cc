// The GGUF side of Tokenizer: writes a tokenizer as llama.cpp's tokenizer.ggml.* keys, checks a
// file against them, and builds a Tokenizer back from such keys (as a tokenizer.json document fed
// to the same loader, so both paths share one pipeline). Owns the mapping between t81's pipeline
// and llama.cpp's vocabulary kinds: "gpt2" + pre "gpt-2" / "llama-bpe", and "llama" (SPM).
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <tuple>

#include "t81/io/gguf.h"
#include "t81/text/tokenizer_impl.h"
#include "t81/text/utf8.h"

namespace t81::text {

using Json = nlohmann::json;

namespace {

// Llama 3's pre-tokenizer pattern as its tokenizer.json spells it (llama.cpp's "llama-bpe").
constexpr const char* kLlama3Pattern =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Everything WriteGgufTokenizer writes, computed once for writing and for checking.
struct GgufVocab {
  std::string model, pre;  // pre: byte-level only
  std::vector<std::string> tokens, merges;
  std::vector<int32_t> types;
  std::vector<float> scores;  // SentencePiece only
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  bool add_bos = false, add_eos = false;
  bool add_space_prefix = false;  // SentencePiece only
};

}  // namespace

struct GgufCodec {
  static Result<GgufVocab> Make(const Tokenizer& tok, int64_t n_vocab) {
    const Tokenizer::Impl& t = *tok.impl_;
    const int64_t V = int64_t(t.tokens.size());
    if (V > n_vocab)
      return Error(t.path + ": the tokenizer has " + std::to_string(V) + " tokens, more than the model's " +
                   std::to_string(n_vocab) + " (embedding rows)");
    GgufVocab v;
    v.tokens = t.tokens;
    for (TokenType ty : t.types) v.types.push_back(int32_t(ty));
    for (int64_t i = V; i < n_vocab; ++i) {
      v.tokens.push_back("[PAD" + std::to_string(i) + "]");
      v.types.push_back(int32_t(TokenType::kControl));
    }
    if (t.kind == TokenizerKind::kByteLevel) {
      v.model = "gpt2";
      if (t.pre_regex == kGpt2Pattern && !t.ignore_merges) v.pre = "gpt-2";
      else if (t.pre_regex == kLlama3Pattern && t.ignore_merges) v.pre = "llama-bpe";
      else
        return Error(t.path + ": the pre-tokenizer is neither GPT-2's nor Llama 3's (with ignore_merges), so llama.cpp "
                              "has no tokenizer.ggml.pre for it");
      for (const auto& [a, b] : t.merges) v.merges.push_back(a + " " + b);
    } else {
      v.model = "llama";
      v.scores = t.scores;
      v.scores.resize(size_t(n_vocab), 0.0f);
      for (const NormStep& n : t.normalizers)
        if (n.kind == NormStep::kPrepend) v.add_space_prefix = true;
      for (const PreStep& p : t.pre)
        if (p.kind == PreStep::kMetaspace && p.prepend != PrependScheme::kNever) v.add_space_prefix = true;
    }
    v.bos = t.bos, v.eos = t.eos, v.unk = t.unk, v.pad = t.pad;
    if (t.prefix.size() > 1 || (t.prefix.size() == 1 && t.prefix[0] != t.bos))
      return Error(t.path + ": the post-processor puts tokens other than BOS before the text; llama.cpp cannot express that");
    if (t.suffix.size() > 1 || (t.suffix.size() == 1 && t.suffix[0] != t.eos))
      return Error(t.path + ": the post-processor puts tokens other than EOS after the text; llama.cpp cannot express that");
    v.add_bos = !t.prefix.empty();
    v.add_eos = !t.suffix.empty();
    return v;
  }

  static Result<Tokenizer> Read(const io::GgufFile& f);
};

namespace {

constexpr const char* kIdKeys[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                   "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"};

std::vector<int32_t> Ids(const GgufVocab& v) { return {v.bos, v.eos, v.unk, v.pad}; }

}  // namespace

Status WriteGgufTokenizer(const Tokenizer& t, int64_t n_vocab, io::GgufWriter* w) {
  T81_ASSIGN_OR_RETURN(const GgufVocab v, GgufCodec::Make(t, n_vocab));
  w->SetString("tokenizer.ggml.model", v.model);
  if (!v.pre.empty()) w->SetString("tokenizer.ggml.pre", v.pre);
  w->SetStringArray("tokenizer.ggml.tokens", v.tokens);
  w->SetI32Array("tokenizer.ggml.token_type", v.types);
  if (v.model == "gpt2") w->SetStringArray("tokenizer.ggml.merges", v.merges);
  else w->SetF32Array("tokenizer.ggml.scores", v.scores);
  const std::vector<int32_t> ids = Ids(v);
  for (size_t k = 0; k < ids.size(); ++k)
    if (ids[k] >= 0) w->SetU32(kIdKeys[k], uint32_t(ids[k]));
  w->SetBool("tokenizer.ggml.add_bos_token", v.add_bos);
  w->SetBool("tokenizer.ggml.add_eos_token", v.add_eos);
  if (v.model == "llama") w->SetBool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  return OkStatus();
}

Status CheckGgufTokenizer(const Tokenizer& t, int64_t n_vocab, const io::GgufFile& f) {
  T81_ASSIGN_OR_RETURN(const GgufVocab v, GgufCodec::Make(t, n_vocab));
  const std::string& p = f.path();
  auto str = [&](const char* key, const std::string& want) -> Status {
    const io::GgufValue* x = f.Find(key);
    if (!x || x->type != io::GgufType::kString || x->s != want) return Error(p + ": " + key + " is not '" + want + "'");
    return OkStatus();
  };
  auto strs = [&](const char* key, const std::vector<std::string>& want) -> Status {
    const io::GgufValue* x = f.Find(key);
    if (!x || x->type != io::GgufType::kArray || x->elem_type != io::GgufType::kString) return Error(p + ": missing string array " + key);
    if (x->strs.size() != want.size())
      return Error(p + ": " + key + " has " + std::to_string(x->strs.size()) + " entries, expected " + std::to_string(want.size()));
    for (size_t i = 0; i < want.size(); ++i)
      if (x->strs[i] != want[i]) return Error(p + ": " + key + "[" + std::to_string(i) + "] differs from " + t.path());
    return OkStatus();
  };
  auto nums = [&](const char* key, const std::vector<double>& want) -> Status {
    const io::GgufValue* x = f.Find(key);
    if (!x || x->type != io::GgufType::kArray || x->nums.size() != want.size())
      return Error(p + ": " + key + " must hold " + std::to_string(want.size()) + " numbers");
    for (size_t i = 0; i < want.size(); ++i)
      if (x->nums[i] != want[i]) return Error(p + ": " + key + "[" + std::to_string(i) + "] differs from " + t.path());
    return OkStatus();
  };
  auto boolean = [&](const char* key, bool want) -> Status {
    const io::GgufValue* x = f.Find(key);
    if (!x || x->type != io::GgufType::kBool || x->b != want) return Error(p + ": " + key + " is not " + (want ? "true" : "false"));
    return OkStatus();
  };
  T81_RETURN_IF_ERROR(str("tokenizer.ggml.model", v.model));
  if (!v.pre.empty()) T81_RETURN_IF_ERROR(str("tokenizer.ggml.pre", v.pre));
  T81_RETURN_IF_ERROR(strs("tokenizer.ggml.tokens", v.tokens));
  T81_RETURN_IF_ERROR(nums("tokenizer.ggml.token_type", std::vector<double>(v.types.begin(), v.types.end())));
  if (v.model == "gpt2") T81_RETURN_IF_ERROR(strs("tokenizer.ggml.merges", v.merges));
  else T81_RETURN_IF_ERROR(nums("tokenizer.ggml.scores", std::vector<double>(v.scores.begin(), v.scores.end())));
  const std::vector<int32_t> ids = Ids(v);
  for (size_t k = 0; k < ids.size(); ++k) {
    const io::GgufValue* x = f.Find(kIdKeys[k]);
    if (ids[k] < 0 && x) return Error(p + ": unexpected key " + kIdKeys[k]);
    if (ids[k] >= 0 && (!x || x->type != io::GgufType::kU32 || x->u != uint64_t(ids[k])))
      return Error(p + ": " + kIdKeys[k] + " is not " + std::to_string(ids[k]));
  }
  T81_RETURN_IF_ERROR(boolean("tokenizer.ggml.add_bos_token", v.add_bos));
  T81_RETURN_IF_ERROR(boolean("tokenizer.ggml.add_eos_token", v.add_eos));
  if (v.model == "llama") T81_RETURN_IF_ERROR(boolean("tokenizer.ggml.add_space_prefix", v.add_space_prefix));
  return OkStatus();
}

Result<Tokenizer> Tokenizer::FromGguf(const io::GgufFile& f) { return GgufCodec::Read(f); }

Result<Tokenizer> GgufCodec::Read(const io::GgufFile& f) {
  const std::string& p = f.path();
  auto get_str = [&](const char* key) -> Result<std::optional<std::string>> {
    const io::GgufValue* x = f.Find(key);
    if (!x) return std::optional<std::string>();
    if (x->type != io::GgufType::kString) return Error(p + ": " + key + " is not a string");
    return std::optional<std::string>(x->s);
  };
  auto get_bool = [&](const char* key, bool dflt) -> Result<bool> {
    const io::GgufValue* x = f.Find(key);
    if (!x) return dflt;
    if (x->type != io::GgufType::kBool) return Error(p + ": " + key + " is not a bool");
    return x->b;
  };
  T81_ASSIGN_OR_RETURN(const std::optional<std::string> model, get_str("tokenizer.ggml.model"));
  if (!model) return Error(p + ": no tokenizer.ggml.model (the file carries no tokenizer)");
  if (*model != "gpt2" && *model != "llama")
    return Error(p + ": tokenizer.ggml.model '" + *model + "' is not supported (gpt2, llama)");
  const bool byte_level = *model == "gpt2";
  const io::GgufValue* toks = f.Find("tokenizer.ggml.tokens");
  if (!toks || toks->type != io::GgufType::kArray || toks->elem_type != io::GgufType::kString || toks->strs.empty())
    return Error(p + ": tokenizer.ggml.tokens must be a non-empty string array");
  const std::vector<std::string>& tokens = toks->strs;
  const size_t V = tokens.size();
  std::vector<int32_t> types(V, int32_t(TokenType::kNormal));
  if (const io::GgufValue* x = f.Find("tokenizer.ggml.token_type")) {
    if (x->type != io::GgufType::kArray || x->nums.size() != V)
      return Error(p + ": tokenizer.ggml.token_type must hold " + std::to_string(V) + " numbers");
    for (size_t i = 0; i < V; ++i) {
      const double ty = x->nums[i];  // llama.cpp's types are 0..6; anything else is not a type at all
      if (!(ty >= 0 && ty <= 6 && ty == double(int32_t(ty))))
        return Error(p + ": tokenizer.ggml.token_type[" + std::to_string(i) + "] is not a token type (0 to 6)");
      types[i] = int32_t(ty);
    }
  }
  int32_t ids[4] = {-1, -1, -1, -1};
  for (size_t k = 0; k < 4; ++k) {
    const io::GgufValue* x = f.Find(kIdKeys[k]);
    if (!x) continue;
    if (x->type != io::GgufType::kU32 && x->type != io::GgufType::kI32) return Error(p + ": " + kIdKeys[k] + " is not an integer");
    const int64_t id = x->type == io::GgufType::kU32 ? int64_t(x->u) : x->i;
    if (id < 0 || id >= int64_t(V)) continue;  // llama.cpp ignores out-of-range ids too
    ids[k] = int32_t(id);
  }
  const int32_t bos = ids[0], eos = ids[1], unk = ids[2], pad = ids[3];
  T81_ASSIGN_OR_RETURN(const bool add_bos, get_bool("tokenizer.ggml.add_bos_token", !byte_level));
  T81_ASSIGN_OR_RETURN(const bool add_eos, get_bool("tokenizer.ggml.add_eos_token", false));

  // The tokenizer.json document: normal / byte tokens in the model's vocabulary; control,
  // user-defined and unknown ones as added tokens.
  Json vocab = Json::object(), added = Json::array();
  bool any_byte = false;
  for (size_t i = 0; i < V; ++i) {
    const int32_t ty = types[i];
    const bool is_added = ty == int32_t(TokenType::kControl) || ty == int32_t(TokenType::kUserDefined) ||
                          ty == int32_t(TokenType::kUnknown) || int32_t(i) == unk;
    any_byte = any_byte || ty == int32_t(TokenType::kByte);
    if (is_added) {
      added.push_back({{"id", i}, {"content", tokens[i]}, {"special", ty != int32_t(TokenType::kUserDefined)},
                       {"normalized", ty == int32_t(TokenType::kUserDefined)}});
    } else {
      if (vocab.contains(tokens[i])) return Error(p + ": tokenizer.ggml.tokens[" + std::to_string(i) + "] repeats an earlier token");
      vocab[tokens[i]] = i;
    }
  }
  Json model_j = {{"type", "BPE"}, {"vocab", std::move(vocab)}};
  Json doc = Json::object();
  if (byte_level) {
    T81_ASSIGN_OR_RETURN(const std::optional<std::string> pre, get_str("tokenizer.ggml.pre"));
    const io::GgufValue* m = f.Find("tokenizer.ggml.merges");
    if (!m || m->type != io::GgufType::kArray || m->elem_type != io::GgufType::kString)
      return Error(p + ": tokenizer.ggml.merges must be a string array for model gpt2");
    model_j["merges"] = m->strs;
    const Json byte_level_pre = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
    if (pre && *pre == "gpt-2") {
      doc["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
    } else if (pre && *pre == "llama-bpe") {
      Json split = {{"type", "Split"}, {"pattern", {{"Regex", kLlama3Pattern}}}, {"behavior", "Isolated"}};
      doc["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", Json::array({split, byte_level_pre})}};
      model_j["ignore_merges"] = true;
    } else {
      return Error(p + ": tokenizer.ggml.pre '" + pre.value_or("") + "' is not supported (gpt-2, llama-bpe)");
    }
    doc["decoder"] = Json{{"type", "ByteLevel"}};
  } else {
    // SentencePiece: llama.cpp merges the adjacent pair whose join has the highest score; as BPE
    // merges, every split of a token into two vocabulary tokens, ranked by the token's score
    // (then by the ids of the halves, as Hugging Face's converter orders them).
    const io::GgufValue* s = f.Find("tokenizer.ggml.scores");
    if (!s || s->type != io::GgufType::kArray || s->nums.size() != V)
      return Error(p + ": tokenizer.ggml.scores must hold " + std::to_string(V) + " numbers for model llama");
    for (size_t i = 0; i < V; ++i)  // NaN would break the sort's ordering below
      if (!std::isfinite(s->nums[i])) return Error(p + ": tokenizer.ggml.scores[" + std::to_string(i) + "] is not a finite number");
    std::unordered_map<std::string, int32_t> piece;
    for (size_t i = 0; i < V; ++i)
      if (types[i] == int32_t(TokenType::kNormal) || types[i] == int32_t(TokenType::kByte)) piece.emplace(tokens[i], int32_t(i));
    std::vector<std::tuple<double, int32_t, int32_t>> order;  // (-score, left, right)
    for (size_t i = 0; i < V; ++i) {
      if (types[i] != int32_t(TokenType::kNormal)) continue;
      const std::string& tok = tokens[i];
      int len = 0;
      for (size_t k = size_t(Utf8Len(static_cast<unsigned char>(tok[0]))); k < tok.size(); k += size_t(len)) {
        len = std::max(1, Utf8Len(static_cast<unsigned char>(tok[k])));
        auto a = piece.find(tok.substr(0, k)), b = piece.find(tok.substr(k));
        if (a != piece.end() && b != piece.end()) order.emplace_back(-s->nums[i], a->second, b->second);
      }
    }
    std::sort(order.begin(), order.end());
    Json merges = Json::array();
    for (const auto& [score, a, b] : order) merges.push_back({tokens[size_t(a)], tokens[size_t(b)]});
    model_j["merges"] = std::move(merges);
    model_j["byte_fallback"] = any_byte;
    model_j["fuse_unk"] = true;
    if (unk >= 0) model_j["unk_token"] = tokens[size_t(unk)];
    T81_ASSIGN_OR_RETURN(const bool space_prefix, get_bool("tokenizer.ggml.add_space_prefix", true));
    Json norm = Json::array();
    if (space_prefix) norm.push_back({{"type", "Prepend"}, {"prepend", kSpace}});
    norm.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}});
    doc["normalizer"] = {{"type", "Sequence"}, {"normalizers", std::move(norm)}};
    Json dec = Json::array();
    dec.push_back({{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}});
    dec.push_back(Json{{"type", "ByteFallback"}});
    dec.push_back(Json{{"type", "Fuse"}});
    if (space_prefix) dec.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    doc["decoder"] = {{"type", "Sequence"}, {"decoders", std::move(dec)}};
  }
  doc["model"] = std::move(model_j);
  doc["added_tokens"] = std::move(added);
  if ((add_bos && bos >= 0) || (add_eos && eos >= 0)) {
    Json single = Json::array(), specials = Json::object();
    auto special = [&](int32_t id) {
      single.push_back(Json{{"SpecialToken", Json{{"id", tokens[size_t(id)]}}}});
      specials[tokens[size_t(id)]] = {{"id", tokens[size_t(id)]}, {"ids", Json::array({id})}};
    };
    if (add_bos && bos >= 0) special(bos);
    single.push_back(Json{{"Sequence", Json{{"id", "A"}}}});
    if (add_eos && eos >= 0) special(eos);
    doc["post_processor"] = {{"type", "TemplateProcessing"}, {"single", std::move(single)}, {"special_tokens", std::move(specials)}};
  }
  auto impl = std::make_unique<Tokenizer::Impl>();
  T81_RETURN_IF_ERROR(LoadTokenizerJsonObject(doc, p, impl.get()));
  impl->bos = bos, impl->eos = eos, impl->pad = pad;
  if (unk >= 0) impl->unk = unk;
  return Tokenizer(std::move(impl));
}

}  // namespace t81::text
