// Tokenizer: encoding (added-token split, normalizer, pre-tokenizers, BPE by merge rank with a
// per-word cache, byte fallback) and decoding (the tokenizer's decoder steps), over the state that
// tokenizer_load.cc builds.
#include "t81/text/tokenizer.h"

#include <algorithm>
#include <deque>

#include "t81/text/tokenizer_impl.h"
#include "t81/text/utf8.h"

namespace t81::text {

const char* TokenizerKindName(TokenizerKind k) {
  return k == TokenizerKind::kByteLevel ? "byte-level BPE" : "SentencePiece BPE";
}

// ---------------------------------------------------------------- added tokens

void AddedMatcher::Add(std::string_view content, int32_t index) {
  int32_t node = 0;
  for (const char ch : content) {
    const auto c = static_cast<unsigned char>(ch);
    int32_t next = -1;
    for (const auto& [k, v] : nodes_[size_t(node)].next)
      if (k == c) next = v;
    if (next < 0) {
      next = int32_t(nodes_.size());
      nodes_[size_t(node)].next.emplace_back(c, next);
      nodes_.emplace_back();
    }
    node = next;
  }
  nodes_[size_t(node)].token = index;
  first_[static_cast<unsigned char>(content[0])] = true;
}

int32_t AddedMatcher::MatchAt(std::string_view text, size_t pos, size_t* len) const {
  int32_t node = 0, best = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    int32_t next = -1;
    for (const auto& [k, v] : nodes_[size_t(node)].next)
      if (k == c) next = v;
    if (next < 0) break;
    node = next;
    if (nodes_[size_t(node)].token >= 0) {
      best = nodes_[size_t(node)].token;
      *len = i + 1 - pos;
    }
  }
  return best;
}

namespace {

struct Section {
  std::string_view text;
  int32_t added = -1;  // index into Impl::added, or -1 for text
};

bool IsWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

std::string_view TrimSpace(std::string_view s, bool left, bool right) {
  while (left && !s.empty()) {
    int len;
    if (!IsUnicodeSpace(DecodeUtf8At(s, 0, &len))) break;
    s.remove_prefix(size_t(len));
  }
  while (right && !s.empty()) {
    size_t i = s.size() - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
    int len;
    if (!IsUnicodeSpace(DecodeUtf8At(s, i, &len))) break;
    s.remove_suffix(s.size() - i);
  }
  return s;
}

// The text cut at the added tokens (leftmost-longest, as transformers' splitter), with lstrip /
// rstrip applied. Added tokens marked normalized are matched in the raw text too: exact for
// tokenizers without a normalizer, and the tokenizers t81 reads mark their tokens unnormalized.
std::vector<Section> SplitAdded(const Tokenizer::Impl& t, std::string_view text) {
  std::vector<Section> out;
  if (t.matcher.empty()) {
    if (!text.empty()) out.push_back({text, -1});
    return out;
  }
  size_t start = 0, i = 0;
  while (i < text.size()) {
    if (!t.matcher.MayStart(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t len = 0;
    const int32_t m = t.matcher.MatchAt(text, i, &len);
    if (m >= 0 && t.added[size_t(m)].single_word) {
      const bool before = i > 0 && IsWordByte(static_cast<unsigned char>(text[i - 1]));
      const bool after = i + len < text.size() && IsWordByte(static_cast<unsigned char>(text[i + len]));
      if (before || after) {
        ++i;
        continue;
      }
    }
    if (m < 0) {
      ++i;
      continue;
    }
    if (i > start) out.push_back({text.substr(start, i - start), -1});
    out.push_back({text.substr(i, len), m});
    i += len;
    start = i;
  }
  if (start < text.size()) out.push_back({text.substr(start), -1});
  for (size_t k = 0; k < out.size(); ++k) {
    if (out[k].added < 0) continue;
    const AddedToken& a = t.added[size_t(out[k].added)];
    if (a.lstrip && k > 0 && out[k - 1].added < 0) out[k - 1].text = TrimSpace(out[k - 1].text, false, true);
    if (a.rstrip && k + 1 < out.size() && out[k + 1].added < 0) out[k + 1].text = TrimSpace(out[k + 1].text, true, false);
  }
  return out;
}

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  if (s->find(from) == std::string::npos) return;
  std::string r;
  r.reserve(s->size());
  size_t pos = 0;
  for (size_t f; (f = s->find(from, pos)) != std::string::npos; pos = f + from.size()) {
    r.append(*s, pos, f - pos);
    r.append(to);
  }
  r.append(*s, pos, std::string::npos);
  *s = std::move(r);
}

// Scratch space of one BPE run, reused by the thread.
struct Symbol {
  int32_t id;  // -1: a character outside the vocabulary
  int32_t prev, next;
  uint32_t begin, len;  // bytes of the word; len 0 once merged away
};
struct Candidate {
  int32_t rank, pos, left, right, merged;
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};
struct BpeScratch {
  std::vector<Symbol> syms;
  std::vector<Candidate> heap;
};

}  // namespace

// ---------------------------------------------------------------- encoding

Status Tokenizer::Impl::Merge(std::string_view w, std::vector<int32_t>* out) const {
  thread_local BpeScratch scratch;
  std::vector<Symbol>& syms = scratch.syms;
  std::vector<Candidate>& heap = scratch.heap;
  syms.clear();
  heap.clear();
  // Initial symbols: bytes (byte-level) or characters (SentencePiece).
  if (kind == TokenizerKind::kByteLevel) {
    for (size_t i = 0; i < w.size(); ++i)
      syms.push_back({byte_ids[static_cast<unsigned char>(w[i])], int32_t(i) - 1, int32_t(i) + 1, uint32_t(i), 1});
  } else {
    for (size_t i = 0; i < w.size();) {
      const size_t len = size_t(Utf8Len(static_cast<unsigned char>(w[i])));
      auto it = piece_to_id.find(w.substr(i, len));
      const int32_t n = int32_t(syms.size());
      syms.push_back({it == piece_to_id.end() ? -1 : it->second, n - 1, n + 1, uint32_t(i), uint32_t(len)});
      i += len;
    }
  }
  syms.back().next = -1;
  const auto push_pair = [&](int32_t pos) {
    const Symbol& l = syms[size_t(pos)];
    if (l.next < 0) return;
    const Symbol& r = syms[size_t(l.next)];
    if (l.id < 0 || r.id < 0) return;
    auto it = merge_map.find(uint64_t(uint32_t(l.id)) << 32 | uint32_t(r.id));
    if (it == merge_map.end()) return;
    heap.push_back({it->second.rank, pos, l.id, r.id, it->second.id});
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (int32_t i = 0; i + 1 < int32_t(syms.size()); ++i) push_pair(i);
  // Lowest rank first, leftmost among equal ranks; stale candidates are skipped.
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& l = syms[size_t(c.pos)];
    if (l.len == 0 || l.id != c.left || l.next < 0) continue;
    Symbol& r = syms[size_t(l.next)];
    if (r.id != c.right) continue;
    l.id = c.merged;
    l.len += r.len;
    l.next = r.next;
    r.len = 0;
    if (l.next >= 0) syms[size_t(l.next)].prev = c.pos;
    if (l.prev >= 0) push_pair(l.prev);
    push_pair(c.pos);
  }
  // Emit; characters outside the vocabulary become byte tokens (byte fallback) or unk.
  bool last_unk = false;
  for (int32_t i = 0; i >= 0; i = syms[size_t(i)].next) {
    const Symbol& s = syms[size_t(i)];
    if (s.id >= 0) {
      out->push_back(s.id);
      last_unk = false;
      continue;
    }
    const std::string_view bytes = w.substr(s.begin, s.len);
    if (byte_fallback &&
        std::all_of(bytes.begin(), bytes.end(), [&](char b) { return byte_ids[static_cast<unsigned char>(b)] >= 0; })) {
      for (const char b : bytes) out->push_back(byte_ids[static_cast<unsigned char>(b)]);
      last_unk = false;
      continue;
    }
    if (unk < 0) {
      std::string hex;
      for (const char b : bytes) {
        static const char* kHex = "0123456789ABCDEF";
        hex += std::string(hex.empty() ? "" : " ") + kHex[static_cast<unsigned char>(b) >> 4] + kHex[b & 15];
      }
      return Error(path + ": text has a character (bytes " + hex + ") that the vocabulary lacks, and no unk token");
    }
    if (!(fuse_unk && last_unk)) out->push_back(unk);
    last_unk = true;
  }
  return OkStatus();
}

Status Tokenizer::Impl::EncodeWord(std::string_view w, std::vector<int32_t>* out) const {
  if (w.empty()) return OkStatus();
  if (ignore_merges) {
    if (auto it = piece_to_id.find(w); it != piece_to_id.end()) {
      out->push_back(it->second);
      return OkStatus();
    }
  }
  const bool cacheable = w.size() <= kMaxCachedWord;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu);
    if (auto it = cache.find(w); it != cache.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return OkStatus();
    }
  }
  const size_t before = out->size();
  T81_RETURN_IF_ERROR(Merge(w, out));
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu);
    if (cache.size() >= kCacheCapacity) cache.clear();
    cache.emplace(std::string(w), std::vector<int32_t>(out->begin() + std::ptrdiff_t(before), out->end()));
  }
  return OkStatus();
}

Status Tokenizer::Impl::EncodeSection(std::string_view s, size_t section_index, std::vector<int32_t>* out) const {
  std::string normalized;
  if (!normalizers.empty()) {
    normalized = s;
    for (const NormStep& n : normalizers) {
      if (n.kind == NormStep::kPrepend) {
        if (!normalized.empty()) normalized.insert(0, n.a);
      } else {
        ReplaceAll(&normalized, n.a, n.b);
      }
    }
    s = normalized;
  }
  if (s.empty()) return OkStatus();
  std::deque<std::string> owned;  // pieces that steps rewrote
  std::vector<std::string_view> pieces{s}, next;
  for (const PreStep& step : pre) {
    next.clear();
    for (std::string_view p : pieces) {
      switch (step.kind) {
        case PreStep::kSplit:
          T81_RETURN_IF_ERROR(step.re.Split(p, step.drop_matches, &next));
          break;
        case PreStep::kByteLevel:
          if (step.add_prefix_space && (p.empty() || p[0] != ' ')) {
            std::string q;  // (not " " + std::string(p): GCC 12 warns falsely about it)
            q.reserve(p.size() + 1);
            q.push_back(' ');
            q.append(p);
            owned.push_back(std::move(q));
            p = owned.back();
          }
          if (step.has_re) T81_RETURN_IF_ERROR(step.re.Split(p, false, &next));
          else next.push_back(p);
          break;
        case PreStep::kMetaspace: {
          std::string m(p);
          ReplaceAll(&m, " ", step.replacement);
          const bool prepend = step.prepend == PrependScheme::kAlways || (step.prepend == PrependScheme::kFirst && section_index == 0);
          if (prepend && m.compare(0, step.replacement.size(), step.replacement) != 0) m.insert(0, step.replacement);
          owned.push_back(std::move(m));
          const std::string_view v = owned.back();
          if (!step.split) {
            next.push_back(v);
            break;
          }
          // Each piece starts at a replacement character (it is merged with what follows).
          size_t start = 0;
          for (size_t f = v.find(step.replacement, 1); f != std::string_view::npos; f = v.find(step.replacement, f + 1)) {
            next.push_back(v.substr(start, f - start));
            start = f;
          }
          next.push_back(v.substr(start));
          break;
        }
      }
    }
    pieces.swap(next);
  }
  for (std::string_view p : pieces) {
    if (cut_before.empty()) {
      T81_RETURN_IF_ERROR(EncodeWord(p, out));
      continue;
    }
    // Cut before each run of the space symbol ("a▁▁b▁c" -> "a" "▁▁b" "▁c").
    const std::string_view x = cut_before;
    size_t start = 0;
    for (size_t f = p.find(x, 1); f != std::string_view::npos; f = p.find(x, f + x.size())) {
      if (f >= start + x.size() && p.compare(f - x.size(), x.size(), x) == 0) continue;  // inside a run
      if (f > start) T81_RETURN_IF_ERROR(EncodeWord(p.substr(start, f - start), out));
      start = f;
    }
    T81_RETURN_IF_ERROR(EncodeWord(p.substr(start), out));
  }
  return OkStatus();
}

Result<std::vector<int32_t>> Tokenizer::Encode(std::string_view text, bool add_special) const {
  const Impl& t = *impl_;
  if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos)
    return Error("text is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special) ids.insert(ids.end(), t.prefix.begin(), t.prefix.end());
  const std::vector<Section> sections = SplitAdded(t, text);
  for (size_t i = 0; i < sections.size(); ++i) {
    if (sections[i].added >= 0) ids.push_back(t.added[size_t(sections[i].added)].id);
    else T81_RETURN_IF_ERROR(t.EncodeSection(sections[i].text, i, &ids));
  }
  if (add_special) ids.insert(ids.end(), t.suffix.begin(), t.suffix.end());
  return ids;
}

// ---------------------------------------------------------------- decoding

namespace {

struct Piece {
  std::string s;
  bool added;
};

// "<0xNN>" -> NN, or -1.
int ByteTokenValue(std::string_view s) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
  int v = 0;
  for (const char c : s.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else return -1;
  }
  return v;
}

void RunDecoder(const DecStep& step, std::vector<Piece>* pieces) {
  std::vector<Piece> out;
  switch (step.kind) {
    case DecStep::kByteLevel: {  // runs of model tokens -> their bytes; added tokens stay as they are
      std::string bytes;
      bool open = false;
      for (Piece& p : *pieces) {
        if (p.added) {
          if (open) out.push_back({Utf8Lossy(bytes), false});
          bytes.clear();
          open = false;
          out.push_back(std::move(p));
          continue;
        }
        open = true;
        for (size_t i = 0; i < p.s.size();) {
          int len;
          const char32_t cp = DecodeUtf8At(p.s, i, &len);
          const int b = UnicodeToByte(cp);
          if (b >= 0) bytes.push_back(char(b));
          else bytes.append(p.s, i, size_t(len));
          i += size_t(len);
        }
      }
      if (open) out.push_back({Utf8Lossy(bytes), false});
      break;
    }
    case DecStep::kReplace:
      for (Piece& p : *pieces) ReplaceAll(&p.s, step.a, step.b);
      return;
    case DecStep::kByteFallback: {  // runs of <0xNN> -> their text, or one U+FFFD per byte if invalid
      std::string bytes;
      const auto flush = [&] {
        if (bytes.empty()) return;
        if (FindInvalidUtf8(bytes) == std::string::npos) {
          out.push_back({bytes, false});
        } else {
          for (size_t k = 0; k < bytes.size(); ++k) out.push_back({"\xEF\xBF\xBD", false});
        }
        bytes.clear();
      };
      for (Piece& p : *pieces) {
        const int v = ByteTokenValue(p.s);
        if (v >= 0) {
          bytes.push_back(char(v));
          continue;
        }
        flush();
        out.push_back(std::move(p));
      }
      flush();
      break;
    }
    case DecStep::kFuse: {
      Piece all{"", false};
      for (const Piece& p : *pieces) all.s += p.s;
      out.push_back(std::move(all));
      break;
    }
    case DecStep::kStrip:
      for (Piece& p : *pieces) {
        size_t b = 0, e = p.s.size();
        for (int k = 0; k < step.start && p.s.compare(b, step.a.size(), step.a) == 0; ++k) b += step.a.size();
        for (int k = 0; k < step.stop && e >= b + step.a.size() && p.s.compare(e - step.a.size(), step.a.size(), step.a) == 0; ++k)
          e -= step.a.size();
        p.s = p.s.substr(b, e - b);
      }
      return;
    case DecStep::kMetaspace:
      for (size_t i = 0; i < pieces->size(); ++i) {
        Piece& p = (*pieces)[i];
        ReplaceAll(&p.s, step.a, " ");
        if (i == 0 && step.prepend != PrependScheme::kNever && !p.s.empty() && p.s[0] == ' ') p.s.erase(0, 1);
      }
      return;
  }
  pieces->swap(out);
}

}  // namespace

Result<std::string> Tokenizer::Decode(std::span<const int32_t> ids, const DecodeOptions& opt) const {
  const Impl& t = *impl_;
  const int64_t V = int64_t(t.tokens.size());
  for (const int32_t id : ids)
    if (id < 0 || id >= V) return Error("token id " + std::to_string(id) + " is out of range [0, " + std::to_string(V) + ")");
  const auto kept = [&](int32_t id) { return !(opt.skip_special && t.is_special[size_t(id)]); };
  if (t.plain_byte_decoder) {
    std::string bytes;
    for (const int32_t id : ids)
      if (kept(id)) bytes += t.token_bytes[size_t(id)];
    return Utf8Lossy(bytes);
  }
  std::vector<Piece> pieces;
  for (const int32_t id : ids)
    if (kept(id)) pieces.push_back({t.tokens[size_t(id)], t.is_added[size_t(id)] != 0});
  for (const DecStep& step : t.dec) RunDecoder(step, &pieces);
  std::string text;
  for (const Piece& p : pieces) text += p.s;
  return Utf8Lossy(text);
}

// ---------------------------------------------------------------- the rest

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

TokenizerKind Tokenizer::kind() const { return impl_->kind; }
int64_t Tokenizer::vocab_size() const { return int64_t(impl_->tokens.size()); }
int32_t Tokenizer::bos_id() const { return impl_->bos; }
int32_t Tokenizer::eos_id() const { return impl_->eos; }
int32_t Tokenizer::unk_id() const { return impl_->unk; }
int32_t Tokenizer::pad_id() const { return impl_->pad; }
const std::vector<int32_t>& Tokenizer::prefix_ids() const { return impl_->prefix; }
const std::vector<int32_t>& Tokenizer::suffix_ids() const { return impl_->suffix; }
const std::string& Tokenizer::path() const { return impl_->path; }
const std::vector<std::string>& Tokenizer::tokens() const { return impl_->tokens; }
const std::vector<std::pair<std::string, std::string>>& Tokenizer::merges() const { return impl_->merges; }
const std::vector<float>& Tokenizer::scores() const { return impl_->scores; }
const std::vector<TokenType>& Tokenizer::token_types() const { return impl_->types; }
const std::vector<AddedToken>& Tokenizer::added_tokens() const { return impl_->added; }
const std::string& Tokenizer::pre_tokenizer_regex() const { return impl_->pre_regex; }

}  // namespace t81::text
