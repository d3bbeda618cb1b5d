#pragma once
// SentencePiece's precompiled normalization map (the "Precompiled" normalizer T5, mT5, XLM-R ship).
//
// Blob layout (after base64): u32 little-endian trie size in bytes, a Darts double-array trie of that many
// bytes (u32 units) whose leaf values are offsets into the rest of the blob, then NUL-terminated
// replacement strings. Example: the key "ｆ" (U+FF46) leads to a leaf whose value points at "f\0".
//
// Like `tokenizers`, the text is walked by extended grapheme cluster: a cluster shorter than 6 bytes is
// looked up whole, and the replacement of the *shortest* matching prefix replaces the whole cluster;
// otherwise (or on no match) each character is looked up on its own. Immutable after construction.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mmrt::text {

class PrecompiledCharsmap {
 public:
  // `blob` is the decoded precompiled_charsmap; throws TokenizerError when it is truncated.
  explicit PrecompiledCharsmap(std::string_view blob);

  std::string normalize(std::string_view text) const;

 private:
  // Replacement of the shortest key that is a prefix of `chunk`, if any.
  std::optional<std::string_view> transform(std::string_view chunk) const;

  std::vector<uint32_t> units_;  // the double-array trie
  std::string replacements_;     // NUL-separated replacement strings
};

std::string base64_decode(std::string_view text);

}  // namespace mmrt::text
