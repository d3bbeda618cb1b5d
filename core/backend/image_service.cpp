#include "core/backend/image_service.hpp"

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/backend/status.hpp"
#include "core/backend/tensor.hpp"
#include "core/image/resize.hpp"
#include "core/image/transforms.hpp"
#include "core/plugin/host_api.hpp"
#include "core/plugin/status.hpp"
#include "mmrt/image/resize_crop_normalize.hpp"

namespace mmrt::backend {
namespace {

constexpr int64_t kMaxPixels = int64_t(1) << 28;

void check_image(const MmrtImage* img, const void* dst) {
  if (!img || !img->rgb || !dst) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "NULL argument");
  if (img->width <= 0 || img->height <= 0 || int64_t(img->width) * img->height > kMaxPixels) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                      "invalid image size " + std::to_string(img->width) + "x" + std::to_string(img->height));
  }
}

// A borrowed MmrtImage as the core image type (a copy: the core functions take owned images).
image::Image to_image(const MmrtImage* img, bool with_alpha) {
  image::Image image;
  image.width = img->width;
  image.height = img->height;
  const size_t n_pixels = size_t(img->width) * size_t(img->height);
  image.rgb.assign(img->rgb, img->rgb + n_pixels * 3);
  if (with_alpha && MMRT_HAS_FIELD(img, MmrtImage, alpha) && img->alpha)
    image.alpha.assign(img->alpha, img->alpha + n_pixels);
  return image;
}

void write_rgb(const image::Image& image, uint8_t* dst) {
  std::memcpy(dst, image.rgb.data(), image.rgb.size());
}

// Image errors are the caller's bad arguments (a size the primitive cannot produce), never internal.
template <typename Body>
MmrtStatus* image_boundary(const char* what, Body&& body) noexcept {
  return status_boundary(what, [&] {
    try {
      body();
    } catch (const image::ImageError& e) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, e.what());
    } catch (const sdk::Error& e) {
      throw StatusError(e.code(), e.what());
    }
  });
}

MmrtStatus* to_rgb(const MmrtImage* src, uint8_t* dst) {
  return image_boundary("image.to_rgb", [&] {
    check_image(src, dst);
    write_rgb(image::composite_over_white(to_image(src, true)), dst);
  });
}

MmrtStatus* resize(const MmrtImage* src, int32_t width, int32_t height, int32_t filter, double reducing_gap,
                   uint8_t* dst) {
  return image_boundary("image.resize", [&] {
    check_image(src, dst);
    if (width <= 0 || height <= 0 || int64_t(width) * height > kMaxPixels) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                        "invalid output size " + std::to_string(width) + "x" + std::to_string(height));
    }
    if (!(reducing_gap >= 0.0)) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "negative reducing_gap");
    const image::ResampleFilter f = image::resample_filter_from_pil(filter);
    const image::Image in = to_image(src, false);
    write_rgb(reducing_gap > 0.0 ? image::resize_with_reducing_gap(in, width, height, f, reducing_gap)
                                 : image::resize(in, width, height, f),
              dst);
  });
}

MmrtStatus* crop(const MmrtImage* src, int32_t x0, int32_t y0, int32_t width, int32_t height, uint8_t* dst) {
  return image_boundary("image.crop", [&] {
    check_image(src, dst);
    if (width <= 0 || height <= 0 || int64_t(width) * height > kMaxPixels) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                        "invalid crop size " + std::to_string(width) + "x" + std::to_string(height));
    }
    write_rgb(image::crop(to_image(src, false), x0, y0, width, height), dst);
  });
}

MmrtStatus* rotate(const MmrtImage* src, int32_t quarter_turns_clockwise, uint8_t* dst) {
  return image_boundary("image.rotate", [&] {
    check_image(src, dst);
    if (quarter_turns_clockwise < 1 || quarter_turns_clockwise > 3) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "quarter_turns_clockwise must be 1, 2 or 3");
    }
    image::Image image = to_image(src, false);
    for (int32_t i = 0; i < quarter_turns_clockwise; ++i) image = image::rotate_clockwise(image);
    write_rgb(image, dst);
  });
}

MmrtStatus* to_grey(const MmrtImage* src, uint8_t* dst) {
  return image_boundary("image.to_grey", [&] {
    check_image(src, dst);
    const std::vector<uint8_t> grey = image::to_grey(to_image(src, false));
    std::memcpy(dst, grey.data(), grey.size());
  });
}

MmrtStatus* normalize(const MmrtImage* src, double rescale_factor, const float* mean, const float* std,
                      int32_t layout, float* dst) {
  return image_boundary("image.normalize", [&] {
    check_image(src, dst);
    if (layout != MMRT_LAYOUT_CHW && layout != MMRT_LAYOUT_HWC)
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "unknown layout " + std::to_string(layout));
    if ((mean == nullptr) != (std == nullptr))
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "mean and std must both be given or both be NULL");
    image::NormalizeSpec spec;
    spec.do_rescale = rescale_factor != 0.0;
    spec.rescale_factor = rescale_factor;
    spec.do_normalize = mean != nullptr;
    if (mean) {
      for (int c = 0; c < 3; ++c) {
        spec.mean[c] = mean[c];
        spec.std[c] = std[c];
      }
    }
    const std::vector<float> chw = image::to_normalized_chw(to_image(src, false), spec);
    if (layout == MMRT_LAYOUT_CHW) {
      std::memcpy(dst, chw.data(), chw.size() * sizeof(float));
      return;
    }
    const size_t plane = size_t(src->width) * size_t(src->height);
    for (size_t i = 0; i < plane; ++i) {
      for (size_t c = 0; c < 3; ++c) dst[i * 3 + c] = chw[c * plane + i];
    }
  });
}

// The 1.0 slots: a processor described by a preprocessor config, run with the primitives above. Only the
// resize/crop/normalize family is offered here; every other processor lives in its model's plugin.
const sdk::image::ResizeCropNormalize& processor_for(const char* json, uint64_t len);

MmrtStatus* preprocess(const char* config, uint64_t len, const MmrtImage* img, MmrtProcessorOutput* out) {
  return image_boundary("image.preprocess", [&] {
    if (!config || !out || !out->alloc_tensor)
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "NULL argument");
    check_image(img, img->rgb);
    const sdk::image::ProcessedPixels result = processor_for(config, len).process(*img);
    void* data = nullptr;
    if (MmrtStatus* st = out->alloc_tensor(out->host_ctx, "pixel_values", kF32, int32_t(result.shape.size()),
                                           result.shape.data(), &data)) {
      plugin::StatusPtr owned(st);
      throw StatusError(owned->code, std::string("allocating pixel_values: ") + owned->message);
    }
    std::memcpy(data, result.values.data(), result.values.size() * sizeof(float));
  });
}

MmrtStatus* fingerprint(const char* config, uint64_t len, char* buf, uint64_t cap, uint64_t* out_len) {
  return image_boundary("image.fingerprint", [&] {
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

const MmrtImageApi kImageApi = {MMRT_SIZEOF(MmrtImageApi, normalize),
                                0,
                                nullptr,
                                preprocess,
                                fingerprint,
                                to_rgb,
                                resize,
                                crop,
                                rotate,
                                to_grey,
                                normalize};

const sdk::image::ResizeCropNormalize& processor_for(const char* json, uint64_t len) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<sdk::image::ResizeCropNormalize>, std::less<>> processors;
  std::string key(json, len);
  std::lock_guard lock(mutex);
  if (auto it = processors.find(key); it != processors.end()) return *it->second;
  // The SDK composition reports the primitives' statuses through the SDK's host table, which in the host
  // process is the host's own.
  if (!sdk::host_or_null()) sdk::set_host(plugin::host_api());
  const sdk::json::Value parsed = sdk::json::parse(key, "preprocessor_config");
  auto processor = std::make_unique<sdk::image::ResizeCropNormalize>(
      sdk::image::Primitives(&kImageApi),
      sdk::image::ResizeCropNormalizeConfig::parse(sdk::json::Reader(parsed, "preprocessor_config")));
  return *processors.emplace(std::move(key), std::move(processor)).first->second;
}

}  // namespace

const MmrtImageApi* image_service() {
  return &kImageApi;
}

}  // namespace mmrt::backend
