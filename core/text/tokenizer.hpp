#pragma once
// A Hugging Face tokenizer read from a checkpoint's tokenizer.json (+ tokenizer_config.json), producing the
// ids `transformers` produces for `tokenizer(text)` and decoding ids back to text.
//
// Pipeline (as in `tokenizers`): added tokens are cut out of the raw input -> each remaining piece is
// normalized -> pre-tokenized -> encoded by the model (BPE or Unigram) -> the post-processor adds the
// template's special tokens. Decoding maps ids to token strings, runs the decoder chain and, for
// non-BPE models whose tokenizer_config.json sets clean_up_tokenization_spaces, the transformers clean-up.
// Example (Llama-2): encode("Hello world") -> [1, 22557, 1526]; decode([1, 22557, 1526], true) -> "Hello
// world".
//
// Invalid UTF-8 input to encode throws TokenizerError (Python strings cannot hold it, so there is no
// reference behavior to copy; replacing it silently would change what the model sees).
//
// Ownership and threading: a Tokenizer is an immutable, cheaply copyable handle (copies share state);
// every const member function may be called from any number of threads at once.

#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer_error.hpp"

namespace mmrt::text {

class StreamingDetokenizer;

class Tokenizer {
 public:
  // Reads dir/tokenizer.json and, when present, dir/tokenizer_config.json. Errors name the file and the
  // unsupported or malformed piece ("…/tokenizer.json: model: model type 'WordLevel' is not supported").
  static Tokenizer from_dir(const std::filesystem::path& dir);
  // `tokenizer_config_json` may be empty (no config).
  static Tokenizer from_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json);

  // Throws TokenizerError when `text` is not valid UTF-8.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // Ids without a token are skipped, as in `tokenizers`.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  // Throws TokenizerError for an id that has no token.
  std::string id_to_token(int32_t id) const;
  // Number of distinct ids, added tokens included.
  int64_t vocab_size() const;
  // True for added tokens marked "special" (what skip_special_tokens drops).
  bool is_special(int32_t id) const;

  // bos_token, eos_token, pad_token, unk_token (or any other string-valued or {"content": ...} entry) of
  // tokenizer_config.json; empty when absent or null.
  const std::string& special_token_string(std::string_view name) const;
  // The raw tokenizer_config.json (empty object when absent), for the chat template renderer.
  const boost::json::object& tokenizer_config() const;

 private:
  friend class StreamingDetokenizer;
  struct State;
  explicit Tokenizer(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  static std::shared_ptr<const State> load(std::string_view tokenizer_json, std::string_view config_json,
                                           const std::string& tokenizer_name, const std::string& config_name);

  // The decoder chain's output for `ids`, before the transformers clean-up.
  std::string decode_raw(std::span<const int32_t> ids, bool skip_special_tokens) const;
  // Whether decode() drops `id` (no token, or special while skipping special tokens).
  bool decode_drops(int32_t id, bool skip_special_tokens) const;
  bool is_byte_fallback_token(int32_t id) const;
  bool cleans_up_tokenization_spaces() const;

  std::shared_ptr<const State> state_;
};

// The transformers clean-up: " ." -> ".", " n't" -> "n't", and the other contractions.
std::string clean_up_tokenization(std::string_view text);

}  // namespace mmrt::text

#include "streaming_detokenizer.hpp"
