// From what a user sends (prompt text or chat messages, plus decoded images) to what the engine runs:
// the chat template rendered, the text tokenized, each image through the plugin's processor, and the
// placeholders expanded. Thread-safe: the server calls it from its worker pool.
#pragma once

#include <boost/json/array.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/model.hpp"
#include "core/image/image.hpp"

namespace mmrt::engine {

struct PreparedPrompt {
  std::string text;  // the prompt as tokenized (after the chat template, if any)
  PaddedPrompt prompt;
  std::vector<std::shared_ptr<const ProcessedItem>> items;
};

// Renders messages (OpenAI/Transformers shape: content a string or parts {"type":"text"|"image"}) with the
// checkpoint's chat template and add_generation_prompt. Throws std::invalid_argument when the model has no
// template or the template rejects the messages.
std::string render_chat(const Model& model, const boost::json::array& messages);

// The messages `mmrt generate --chat` sends: one user turn with the images first, then the text.
boost::json::array single_turn_messages(const std::string& text, size_t n_images);

PreparedPrompt prepare_prompt(const Model& model, std::string text, const std::vector<image::Image>& images);
// The same for images already through Model::process_image (the server processes them one at a time, so
// it can stop between them).
PreparedPrompt prepare_processed_prompt(const Model& model, std::string text,
                                        std::vector<std::shared_ptr<const ProcessedItem>> items);

}  // namespace mmrt::engine
