#include "host/server/request_preparation.hpp"

#include <algorithm>

#include "core/image/decode.hpp"
#include "core/plugin/status.hpp"
#include "core/text/tokenizer_error.hpp"
#include "host/server/api_error.hpp"

namespace mmrt::server {

namespace {

void stop_if_cancelled(const std::atomic<bool>& cancelled) {
  if (cancelled.load(std::memory_order_relaxed)) throw PreparationCancelled();
}

void check_aspect_ratio(const image::Image& image, double max_ratio, const std::string& param) {
  const double longer = std::max(image.width, image.height), shorter = std::min(image.width, image.height);
  if (longer > shorter * max_ratio) {
    throw ApiError(400,
                   "image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                       ": its aspect ratio is over the limit of " + std::to_string(int64_t(max_ratio)) + ":1",
                   param, "invalid_image");
  }
}

std::shared_ptr<const engine::ProcessedItem> load_and_process(const engine::Model& model,
                                                              const GenerationRequest& request, size_t i,
                                                              const PreparationLimits& limits,
                                                              const std::atomic<bool>& cancelled) {
  const std::string& param = request.image_params[i];
  const std::vector<uint8_t> bytes = load_image_url(request.image_urls[i], limits.media, param);
  stop_if_cancelled(cancelled);
  image::Image decoded;
  try {
    decoded = image::decode_image(bytes, image::DecodeLimits{limits.max_image_pixels});
  } catch (const image::ImageError& e) {
    throw ApiError(400, std::string("cannot decode image: ") + e.what(), param, "invalid_image");
  }
  check_aspect_ratio(decoded, limits.max_image_aspect_ratio, param);
  stop_if_cancelled(cancelled);
  try {
    return std::make_shared<engine::ProcessedItem>(model.process_image(decoded));
  } catch (const plugin::PluginError& e) {
    if (e.code() != MMRT_STATUS_INVALID_ARGUMENT) throw;
    throw ApiError(400, std::string("cannot process image: ") + e.what(), param, "invalid_image");
  }
}

}  // namespace

engine::PreparedPrompt prepare_generation(const engine::Model& model, const GenerationRequest& request,
                                          const PreparationLimits& limits,
                                          const std::atomic<bool>& cancelled) {
  if (!request.image_urls.empty() && !model.has_vision()) {
    throw ApiError(400, "model " + model.name() + " does not take images", request.image_params[0]);
  }
  const std::string prompt_param = request.endpoint == Endpoint::chat_completions ? "messages" : "prompt";
  std::vector<std::shared_ptr<const engine::ProcessedItem>> items;
  for (size_t i = 0; i < request.image_urls.size(); ++i) {
    stop_if_cancelled(cancelled);
    items.push_back(load_and_process(model, request, i, limits, cancelled));
  }
  stop_if_cancelled(cancelled);
  try {
    std::string text = request.endpoint == Endpoint::chat_completions
                           ? engine::render_chat(model, request.messages)
                           : request.prompt;
    stop_if_cancelled(cancelled);
    return engine::prepare_processed_prompt(model, std::move(text), std::move(items));
  } catch (const std::invalid_argument& e) {
    throw ApiError(400, e.what(), prompt_param);
  } catch (const text::TokenizerError& e) {
    throw ApiError(400, std::string("cannot tokenize the prompt: ") + e.what());
  } catch (const plugin::PluginError& e) {
    // The plugin's padder refused this input (placeholders vs images); other codes are the plugin's own
    // failure.
    if (e.code() != MMRT_STATUS_INVALID_ARGUMENT) throw;
    throw ApiError(400, e.what(), prompt_param);
  }
}

}  // namespace mmrt::server
