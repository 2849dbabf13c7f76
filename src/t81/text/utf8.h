// UTF-8 helpers for the tokenizers: validation, code point iteration, lossy decoding of byte
// strings (invalid sequences become U+FFFD, one per maximal subpart, as Unicode and WHATWG say),
// and the Unicode White_Space test. Text that reaches the tokenizers is validated here once; the
// functions that walk it afterwards assume valid UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace t81::text {

// Offset of the first byte that is not part of a valid UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or npos if s is valid.
size_t FindInvalidUtf8(std::string_view s);

// Length of the sequence starting with lead byte c in valid UTF-8 (1..4).
inline int Utf8Len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

// The code point at s[i] (valid UTF-8); *len gets its byte length.
char32_t DecodeUtf8At(std::string_view s, size_t i, int* len);

void AppendUtf8(std::string* out, char32_t cp);

// bytes with every invalid sequence replaced by U+FFFD (maximal subparts).
std::string Utf8Lossy(std::string_view bytes);

// The Unicode White_Space property.
bool IsUnicodeSpace(char32_t cp);

}  // namespace t81::text
