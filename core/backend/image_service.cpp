#include "core/backend/image_service.hpp"

#include <boost/json.hpp>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/backend/status.hpp"
#include "core/backend/tensor.hpp"
#include "core/image/image_processor.hpp"
#include "core/plugin/status.hpp"

namespace mmrt::backend {
namespace {

const image::ImageProcessor& processor_for(const char* json, uint64_t len) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<image::ImageProcessor>, std::less<>> processors;
  std::string key(json, len);
  std::lock_guard lock(mutex);
  if (auto it = processors.find(key); it != processors.end()) return *it->second;
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(key, ec);
  if (ec || !parsed.is_object()) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "preprocessor config is not a JSON object");
  }
  auto processor = image::make_image_processor(parsed.as_object());
  return *processors.emplace(std::move(key), std::move(processor)).first->second;
}

// The sink is host code too, so its status is ours to free.
[[noreturn]] void throw_status(MmrtStatus* st, const char* what) {
  plugin::StatusPtr owned(st);
  throw StatusError(owned->code, std::string("allocating ") + what + ": " + owned->message);
}

MmrtStatus* preprocess(const char* config, uint64_t len, const MmrtImage* img, MmrtProcessorOutput* out) {
  return status_boundary("image.preprocess", [&] {
    if (!config || !img || !out || !out->alloc_tensor || !img->rgb) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "NULL argument");
    }
    if (img->width <= 0 || img->height <= 0) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "empty image");
    const image::ImageProcessor& processor = processor_for(config, len);
    image::Image image;
    image.width = img->width;
    image.height = img->height;
    const size_t n_pixels = size_t(img->width) * size_t(img->height);
    image.rgb.assign(img->rgb, img->rgb + n_pixels * 3);
    if (MMRT_HAS_FIELD(img, MmrtImage, alpha) && img->alpha)
      image.alpha.assign(img->alpha, img->alpha + n_pixels);
    image::ProcessedImage result;
    try {
      result = processor.process(image);
    } catch (const image::ImageError& e) {
      // The image's own fault (a size the processor cannot resize to), not the host's.
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, e.what());
    }

    void* data = nullptr;
    MmrtStatus* st = out->alloc_tensor(out->host_ctx, "pixel_values", kF32, int32_t(result.shape.size()),
                                       result.shape.data(), &data);
    if (st) throw_status(st, "pixel_values");
    std::memcpy(data, result.pixel_values.data(), result.pixel_values.size() * sizeof(float));
    if (!result.grid_thw.empty()) {
      const int64_t shape[1] = {int64_t(result.grid_thw.size())};
      st = out->alloc_tensor(out->host_ctx, "image_grid_thw", kI64, 1, shape, &data);
      if (st) throw_status(st, "image_grid_thw");
      std::memcpy(data, result.grid_thw.data(), result.grid_thw.size() * sizeof(int64_t));
    }
  });
}

MmrtStatus* fingerprint(const char* config, uint64_t len, char* buf, uint64_t cap, uint64_t* out_len) {
  return status_boundary("image.fingerprint", [&] {
    if (!config || !out_len) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "NULL argument");
    const std::string fp = processor_for(config, len).fingerprint();
    *out_len = fp.size();
    if (buf && cap > 0) {
      const size_t n = std::min<size_t>(fp.size(), cap - 1);
      std::memcpy(buf, fp.data(), n);
      buf[n] = '\0';
    }
  });
}

const MmrtImageApi kImageApi = {MMRT_SIZEOF(MmrtImageApi, fingerprint), 0, nullptr, preprocess, fingerprint};

}  // namespace

const MmrtImageApi* image_service() {
  return &kImageApi;
}

}  // namespace mmrt::backend
