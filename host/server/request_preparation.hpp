// The CPU work between a parsed request and the engine: fetch and decode each image, render the chat
// template, tokenize, run the plugin's processor and expand placeholders. Runs on the server's worker pool
// while the engine thread computes, so it must only use the model's thread-safe calls.
//
// The work is bounded per request (images, pixels per image, aspect ratio, which with a shortest-edge
// resize bounds the pixels after resizing) and stops between images and stages once `cancelled` is set.
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>

#include "core/engine/model.hpp"
#include "core/engine/prompt.hpp"
#include "host/server/media_source.hpp"
#include "host/server/openai_request.hpp"

namespace mmrt::server {

struct PreparationLimits {
  MediaPolicy media;
  uint64_t max_image_pixels = 16ull << 20;  // width * height, checked from the header before decoding
  // Longer side / shorter side. A 1x262144 image resized to a shortest edge of 336 would be 88 million
  // pixels; at 50 the largest resize is 336 x 16800.
  double max_image_aspect_ratio = 50;
};

// Thrown when `cancelled` was set: the client left, the request timed out or the server shuts down. The
// caller has already answered the client.
class PreparationCancelled : public std::runtime_error {
 public:
  PreparationCancelled() : std::runtime_error("preparation cancelled") {}
};

// Throws ApiError: 400 for images that cannot be loaded, decoded or processed, a template that rejects the
// messages, or placeholders that do not match the images; 500 for anything else.
engine::PreparedPrompt prepare_generation(const engine::Model& model, const GenerationRequest& request,
                                          const PreparationLimits& limits,
                                          const std::atomic<bool>& cancelled);

}  // namespace mmrt::server
