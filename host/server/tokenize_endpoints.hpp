// POST /tokenize and /detokenize, in vLLM's shape, so clients can count tokens with the served model's own
// tokenizer and chat template:
//   /tokenize {"prompt": "Hello"} or {"messages": [...], "add_generation_prompt": true}
//     -> {"count": 2, "max_model_len": 4096, "tokens": [1, 15043]}
//   /detokenize {"tokens": [1, 15043]} -> {"prompt": "<s> Hello"}
// Messages are rendered as for chat completions; an image part renders as the template's placeholder text
// (it is not expanded to the image's tokens). Thread-safe: runs on the worker pool.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/engine/model.hpp"
#include "host/server/openai_request.hpp"

namespace mmrt::server {

// Both throw ApiError(400) naming the field at fault, and ApiError(404) for a model other than
// `model_id` (the model field is optional).
std::string tokenize_response(const engine::Model& model, const std::string& model_id, std::string_view body,
                              int64_t max_model_len, const RequestLimits& limits);
std::string detokenize_response(const engine::Model& model, const std::string& model_id,
                                std::string_view body);

}  // namespace mmrt::server
