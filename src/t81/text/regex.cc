#include "t81/text/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace t81::text {

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

namespace {

std::string Pcre2Message(int rc) {
  PCRE2_UCHAR buf[256];
  if (pcre2_get_error_message(rc, buf, sizeof(buf)) < 0) return "PCRE2 error " + std::to_string(rc);
  return reinterpret_cast<const char*>(buf);
}

// Per-thread match state, shared by every pattern: one-pair match data (group 0 is all a split
// needs) and a JIT stack large enough for long runs of whitespace or letters.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* ctx = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
  MatchState() {
    if (ctx && stack) pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~MatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(ctx);
    pcre2_match_data_free(data);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

MatchState& ThreadMatchState() {
  thread_local MatchState st;
  return st;
}

}  // namespace

Result<Regex> Regex::Compile(std::string_view pattern, bool literal, const std::string& where) {
  int err = 0;
  PCRE2_SIZE off = 0;
  const uint32_t opts = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), opts, &err, &off, nullptr);
  if (!code) return Error(where + ": regex does not compile at offset " + std::to_string(off) + ": " + Pcre2Message(err));
  auto c = std::make_shared<Code>();
  c->code = code;
  c->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  Regex r;
  r.code_ = std::move(c);
  r.where_ = where;
  return r;
}

Status Regex::Split(std::string_view text, bool drop_matches, std::vector<std::string_view>* out) const {
  MatchState& st = ThreadMatchState();
  if (!st.data || !st.ctx) return Error(where_ + ": out of memory for regex matching");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const size_t n = text.size();
  size_t pos = 0, last = 0;
  while (pos < n) {
    const int rc = code_->jit ? pcre2_jit_match(code_->code, subject, n, pos, 0, st.data, st.ctx)
                              : pcre2_match(code_->code, subject, n, pos, PCRE2_NO_UTF_CHECK, st.data, st.ctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) return Error(where_ + ": regex match failed: " + Pcre2Message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
    const size_t b = ov[0], e = ov[1];
    if (e <= b) {  // empty match: move on by one character
      pos = b + 1;
      while (pos < n && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    if (b > last) out->push_back(text.substr(last, b - last));
    if (!drop_matches) out->push_back(text.substr(b, e - b));
    last = pos = e;
  }
  if (last < n) out->push_back(text.substr(last));
  return OkStatus();
}

}  // namespace t81::text
