#pragma once
// UTF-8 helpers shared by the tokenizer stages. Strings handed between stages are always valid UTF-8;
// only Tokenizer::encode's input and decoded byte sequences are checked here.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mmrt::text::utf8 {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Byte offset of the first ill-formed sequence, or nullopt when `text` is valid UTF-8.
std::optional<size_t> first_invalid_offset(std::string_view text);

// Length in bytes of the character starting with `lead` (valid input assumed).
inline size_t char_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// Decodes the character at `pos` of valid UTF-8 text and advances `pos` past it.
char32_t next_codepoint(std::string_view text, size_t& pos);

void append_codepoint(std::string& out, char32_t cp);

// Decodes arbitrary bytes, replacing each maximal ill-formed subpart with one U+FFFD (the Unicode
// recommendation, as Rust's String::from_utf8_lossy and Python's errors="replace" do).
std::string from_bytes_lossy(std::string_view bytes);

}  // namespace mmrt::text::utf8
