// The OpenAI request bodies this server takes, parsed and checked into one typed request.
//
// Chat messages are converted to the shape Transformers' processors pass to chat templates: an image_url
// part becomes {"type": "image"} and its URL joins image_urls in order, so the rendered prompt equals
// processor.apply_chat_template(messages, add_generation_prompt=True). Example:
//   [{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:..."}},{"type":"text","text":"Hi"}]}]
//   -> messages [{"role":"user","content":[{"type":"image"},{"type":"text","text":"Hi"}]}], image_urls
//   ["data:..."]
// Every field error is an ApiError(400) naming the field; nothing here decodes images or touches the model.
#pragma once

#include <boost/json/array.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine/sampling.hpp"

namespace mmrt::server {

enum class Endpoint { chat_completions, completions };

struct GenerationRequest {
  Endpoint endpoint = Endpoint::chat_completions;
  std::string model;
  boost::json::array messages;            // chat_completions: template-shaped
  std::string prompt;                     // completions: given to the model verbatim
  std::vector<std::string> image_urls;    // in prompt order
  std::vector<std::string> image_params;  // the request field of each image, for error messages
  engine::SamplingParams params;          // max_tokens is meaningful only when max_tokens_given
  bool max_tokens_given = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // report logprobs (chat: "logprobs": true; completions: "logprobs": k)
};

struct RequestLimits {
  size_t max_images = 8;
};

// Throw ApiError(400) for malformed JSON, wrong types, unsupported options and too many images.
GenerationRequest parse_chat_request(std::string_view body, const RequestLimits& limits);
GenerationRequest parse_completion_request(std::string_view body, const RequestLimits& limits);

}  // namespace mmrt::server
