#include "precompiled_charsmap.hpp"

#include <utf8proc.h>

#include <cstring>

#include "tokenizer_error.hpp"
#include "utf8.hpp"

namespace mmrt::text {
namespace {

// Darts unit fields.
bool has_leaf(uint32_t unit) {
  return ((unit >> 8) & 1) != 0;
}
uint32_t value_of(uint32_t unit) {
  return unit & ((1u << 31) - 1);
}
uint32_t label_of(uint32_t unit) {
  return unit & ((1u << 31) | 0xFF);
}
uint32_t offset_of(uint32_t unit) {
  return (unit >> 10) << ((unit & (1u << 9)) >> 6);
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t buffer = 0;
  int n_bits = 0;
  for (char c : text) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    const int v = base64_value(c);
    if (v < 0) throw TokenizerError("precompiled_charsmap: invalid base64 character");
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    n_bits += 6;
    if (n_bits >= 8) {
      n_bits -= 8;
      out.push_back(static_cast<char>((buffer >> n_bits) & 0xFF));
    }
  }
  return out;
}

PrecompiledCharsmap::PrecompiledCharsmap(std::string_view blob) {
  if (blob.size() < 4) throw TokenizerError("precompiled_charsmap: shorter than its 4-byte header");
  const auto* bytes = reinterpret_cast<const unsigned char*>(blob.data());
  const uint32_t trie_size =
      bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (static_cast<uint32_t>(bytes[3]) << 24);
  if (trie_size % 4 != 0 || trie_size > blob.size() - 4) {
    throw TokenizerError("precompiled_charsmap: trie size " + std::to_string(trie_size) +
                         " does not fit the " + std::to_string(blob.size()) + "-byte blob");
  }
  units_.resize(trie_size / 4);
  for (size_t i = 0; i < units_.size(); ++i) {
    const unsigned char* u = bytes + 4 + 4 * i;
    units_[i] = u[0] | (u[1] << 8) | (u[2] << 16) | (static_cast<uint32_t>(u[3]) << 24);
  }
  replacements_ = std::string(blob.substr(4 + trie_size));
}

std::optional<std::string_view> PrecompiledCharsmap::transform(std::string_view chunk) const {
  if (units_.empty()) return std::nullopt;
  size_t node = 0;
  uint32_t unit = units_[0];
  node ^= offset_of(unit);
  for (char ch : chunk) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) break;
    node ^= c;
    if (node >= units_.size()) return std::nullopt;
    unit = units_[node];
    if (label_of(unit) != c) return std::nullopt;
    node ^= offset_of(unit);
    if (has_leaf(unit)) {
      if (node >= units_.size()) return std::nullopt;
      const size_t start = value_of(units_[node]);
      if (start >= replacements_.size()) return std::nullopt;
      const size_t end = replacements_.find('\0', start);
      return std::string_view(replacements_).substr(start, end == std::string::npos ? end : end - start);
    }
  }
  return std::nullopt;
}

std::string PrecompiledCharsmap::normalize(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    // One extended grapheme cluster [pos, end).
    utf8proc_int32_t state = 0;
    size_t end = pos;
    char32_t previous = utf8::next_codepoint(text, end);
    while (end < text.size()) {
      size_t next = end;
      const char32_t cp = utf8::next_codepoint(text, next);
      if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(previous),
                                           static_cast<utf8proc_int32_t>(cp), &state)) {
        break;
      }
      previous = cp;
      end = next;
    }
    const std::string_view grapheme = text.substr(pos, end - pos);
    pos = end;
    if (grapheme.size() < 6) {
      if (const auto replacement = transform(grapheme)) {
        out.append(*replacement);
        continue;
      }
    }
    size_t char_pos = 0;
    while (char_pos < grapheme.size()) {
      const size_t n = utf8::char_length(static_cast<unsigned char>(grapheme[char_pos]));
      const std::string_view character = grapheme.substr(char_pos, n);
      char_pos += n;
      if (const auto replacement = transform(character)) {
        out.append(*replacement);
      } else {
        out.append(character);
      }
    }
  }
  return out;
}

}  // namespace mmrt::text
