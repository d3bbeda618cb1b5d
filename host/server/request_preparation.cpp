#include "host/server/request_preparation.hpp"

#include "core/image/decode.hpp"
#include "core/plugin/status.hpp"
#include "core/text/tokenizer_error.hpp"
#include "host/server/api_error.hpp"

namespace mmrt::server {

engine::PreparedPrompt prepare_generation(const engine::Model& model, const GenerationRequest& request,
                                          const PreparationLimits& limits) {
  if (!request.image_urls.empty() && !model.has_vision()) {
    throw ApiError(400, "model " + model.name() + " does not take images", request.image_params[0]);
  }
  std::vector<image::Image> images;
  images.reserve(request.image_urls.size());
  for (size_t i = 0; i < request.image_urls.size(); ++i) {
    const std::string& param = request.image_params[i];
    const std::vector<uint8_t> bytes = load_image_url(request.image_urls[i], limits.media, param);
    try {
      images.push_back(image::decode_image(bytes, image::DecodeLimits{limits.max_image_pixels}));
    } catch (const image::ImageError& e) {
      throw ApiError(400, std::string("cannot decode image: ") + e.what(), param, "invalid_image");
    }
  }
  try {
    std::string text = request.endpoint == Endpoint::chat_completions
                           ? engine::render_chat(model, request.messages)
                           : request.prompt;
    return engine::prepare_prompt(model, std::move(text), images);
  } catch (const std::invalid_argument& e) {
    throw ApiError(400, e.what(), request.endpoint == Endpoint::chat_completions ? "messages" : "prompt");
  } catch (const text::TokenizerError& e) {
    throw ApiError(400, std::string("cannot tokenize the prompt: ") + e.what());
  } catch (const image::ImageError& e) {
    throw ApiError(400, std::string("cannot process image: ") + e.what(), "", "invalid_image");
  } catch (const plugin::PluginError& e) {
    // The plugin's processor or padder refused this input (placeholders vs images, image shape); other codes
    // are the plugin's own failure.
    if (e.code() != MMRT_STATUS_INVALID_ARGUMENT) throw;
    throw ApiError(400, e.what(), request.endpoint == Endpoint::chat_completions ? "messages" : "prompt");
  }
}

}  // namespace mmrt::server
