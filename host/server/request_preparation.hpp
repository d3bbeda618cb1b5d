// The CPU work between a parsed request and the engine: fetch and decode each image, render the chat
// template, tokenize, run the plugin's processor and expand placeholders. Runs on the server's worker pool
// while the engine thread computes, so it must only use the model's thread-safe calls.
#pragma once

#include <cstdint>

#include "core/engine/model.hpp"
#include "core/engine/prompt.hpp"
#include "host/server/media_source.hpp"
#include "host/server/openai_request.hpp"

namespace mmrt::server {

struct PreparationLimits {
  MediaPolicy media;
  uint64_t max_image_pixels = 16ull << 20;  // width * height, checked from the header before decoding
};

// Throws ApiError: 400 for images that cannot be loaded or decoded, a template that rejects the messages,
// or placeholders that do not match the images; 500 for anything else.
engine::PreparedPrompt prepare_generation(const engine::Model& model, const GenerationRequest& request,
                                          const PreparationLimits& limits);

}  // namespace mmrt::server
