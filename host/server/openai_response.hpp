// The OpenAI response bodies: whole completions, stream chunks, usage and logprobs, for both
// /v1/chat/completions and /v1/completions.
//
// Logprobs shapes: chat  -> choices[0].logprobs = {"content": [{token, logprob, bytes, top_logprobs:
// [{token, logprob, bytes}]}]}; completions -> choices[0].logprobs = {tokens, token_logprobs, top_logprobs:
// [{token: logprob}], text_offset}.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/engine/sampling.hpp"
#include "host/server/openai_request.hpp"

namespace mmrt::text {
class Tokenizer;
}

namespace mmrt::server {

// How one token id reads in a logprobs entry. The text is what the token adds to decoded output (a leading
// "▁" reads as a space); a byte-fallback token <0xNN> that is not ASCII reads as "bytes:\xNN" (JSON text must
// be valid UTF-8) and its bytes carry the byte. Caches per id; not thread-safe (one per server io thread).
class TokenTexts {
 public:
  explicit TokenTexts(const text::Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  struct Entry {
    std::string text;
    boost::json::array bytes;
  };
  const Entry& get(int32_t id);

 private:
  const text::Tokenizer& tokenizer_;
  std::unordered_map<int32_t, Entry> cache_;
};

// Logprobs of the tokens of one response (or one stream chunk), in the endpoint's shape.
class LogprobsBuilder {
 public:
  LogprobsBuilder(Endpoint endpoint, TokenTexts& texts) : endpoint_(endpoint), texts_(&texts) {}
  void add(const engine::Sample& sample);
  bool empty() const { return n_ == 0; }
  boost::json::object take();  // the accumulated object; the builder is then empty (text offsets continue)

 private:
  Endpoint endpoint_;
  TokenTexts* texts_;
  size_t n_ = 0;
  int64_t text_offset_ = 0;
  boost::json::array content_;                                           // chat
  boost::json::array tokens_, token_logprobs_, top_logprobs_, offsets_;  // completions
};

// The identity every body of one response repeats.
struct ResponseHead {
  Endpoint endpoint;
  std::string id;   // chatcmpl-... / cmpl-...
  int64_t created;  // unix seconds
  std::string model;
};

boost::json::object usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens);

// One finished choice of a non-streamed response (there are `n` of them). logprobs: null when the request
// did not ask for them.
struct ChoiceResult {
  std::string text;
  std::string finish_reason;
  boost::json::value logprobs;
};

boost::json::object completion_body(const ResponseHead& head, std::vector<ChoiceResult> choices,
                                    boost::json::object usage);

// One stream chunk for choice `index`. role: set on each choice's first chat chunk only; finish_reason
// empty while running. with_usage_null: stream_options.include_usage asks for "usage": null on every chunk
// but the last.
boost::json::object stream_chunk(const ResponseHead& head, int64_t index, const std::string& text,
                                 bool with_role, boost::json::value logprobs,
                                 const std::string& finish_reason, bool with_usage_null);

// The last chunk when stream_options.include_usage: no choices, only usage.
boost::json::object usage_chunk(const ResponseHead& head, boost::json::object usage);

}  // namespace mmrt::server
