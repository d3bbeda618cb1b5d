#pragma once
// Pre-tokenizers of tokenizer.json ("pre_tokenizer"): ByteLevel, Metaspace, Split, Digits, Punctuation,
// Whitespace, WhitespaceSplit and Sequence. Each one cuts every piece into smaller pieces (empty pieces are
// dropped, as in `tokenizers`); the model then encodes each piece on its own.
// Example (ByteLevel, GPT-2 regex): "Hello  world" -> "Hello", " ", " world" -> "Hello", "Ġ", "Ġworld".
// Immutable after parsing; safe to share between threads.

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

namespace mmrt::text {

struct PreToken {
  std::string text;
  // True when the piece starts at byte 0 of the original input (Metaspace's prepend_scheme "first").
  bool at_origin = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their sub-pieces, in order.
  virtual void pre_tokenize(std::vector<PreToken>& pieces) const = 0;
};

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const boost::json::value& value, const std::string& path);

// The GPT-2 byte-to-character table: printable bytes map to themselves, the others to U+0100 onwards.
// Entry b is the UTF-8 encoding of byte b's character.
const std::vector<std::string>& byte_level_chars();

}  // namespace mmrt::text
