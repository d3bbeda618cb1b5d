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
#include <boost/json/object.hpp>
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
  // Else the generation_config.json defaults apply.
  bool temperature_given = false, top_p_given = false, top_k_given = false, repetition_penalty_given = false;
  int32_t n = 1;  // choices, each generated as its own engine request
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // report logprobs (chat: "logprobs": true; completions: "logprobs": k)
  size_t n_content_parts = 0;  // messages and their content parts, counted against max_content_parts
};

struct RequestLimits {
  size_t max_images = 8;
  size_t max_content_parts = 1024;  // messages plus their content parts
  int32_t max_n = 8;                // choices per request
};

// Throw ApiError(400) for malformed JSON, wrong types, unsupported options and too many images.
GenerationRequest parse_chat_request(std::string_view body, const RequestLimits& limits);
GenerationRequest parse_completion_request(std::string_view body, const RequestLimits& limits);
// The body as a JSON object (nesting depth at most 64); ApiError(400) otherwise.
boost::json::object parse_object(std::string_view body);
// Converts `messages` (the request's field, NULL when absent) to the template's shape into out.messages,
// collecting image URLs; what parse_chat_request does with its messages.
void convert_messages(const boost::json::value* messages, GenerationRequest& out,
                      const RequestLimits& limits);

}  // namespace mmrt::server
