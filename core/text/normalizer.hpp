#pragma once
// Normalizers of tokenizer.json ("normalizer"): NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents,
// Replace, Prepend, Precompiled and Sequence. They run on each piece of the input between added tokens,
// exactly as `tokenizers` does (so Prepend prefixes every such piece). Offsets are not tracked: mmrt needs
// ids, not alignments. Immutable after parsing; safe to share between threads.

#include <boost/json.hpp>
#include <memory>
#include <string>

namespace mmrt::text {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites valid UTF-8 `text` in place; the result is valid UTF-8.
  virtual void normalize(std::string& text) const = 0;
};

// Parses one normalizer object; `path` is its location for error messages ("normalizer").
// Throws TokenizerError naming the path and the type for unsupported types (e.g. "BertNormalizer").
std::unique_ptr<Normalizer> parse_normalizer(const boost::json::value& value, const std::string& path);

}  // namespace mmrt::text
