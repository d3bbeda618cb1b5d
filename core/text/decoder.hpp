#pragma once
// Decoders of tokenizer.json ("decoder"): ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace and
// Sequence. Each rewrites the list of token strings; the final strings are concatenated.
// Example (Llama-2: Replace ▁->" ", ByteFallback, Fuse, Strip 1 leading " "):
//   ["▁Hello", "<0xE4>", "<0xB8>", "<0xAD>"] -> [" Hello", "中"] -> [" Hello中"] -> ["Hello中"].
// Only the first token is treated differently (Metaspace, and Strip after Fuse); byte runs are merged
// across tokens. Immutable after parsing; safe to share between threads.

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

namespace mmrt::text {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

std::unique_ptr<Decoder> parse_decoder(const boost::json::value& value, const std::string& path);

// True for "<0xNN>" (a byte-fallback token).
bool is_byte_token(std::string_view token);

}  // namespace mmrt::text
