// WebP via libwebp's simple decoder (default fancy upsampling, no dithering), the same pixels Pillow's
// WebPAnimDecoder produces for a still image. Files with an alpha flag are PIL mode RGBA and keep their
// alpha. An animated file gives its first frame composited on the canvas by libwebpdemux's
// WebPAnimDecoder, as Pillow gives it.
#include <webp/decode.h>
#include <webp/demux.h>

#include <string>
#include <vector>

#include "core/image/decode.hpp"

namespace mmrt::image {
namespace {

[[noreturn]] void fail(const std::string& problem) {
  throw ImageError("WebP: " + problem);
}

const char* status_text(VP8StatusCode status) {
  switch (status) {
    case VP8_STATUS_OK:
      return "ok";
    case VP8_STATUS_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
      return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
      return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
      return "suspended";
    case VP8_STATUS_USER_ABORT:
      return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return "file is truncated";
  }
  return "unknown error";
}

// Frees the animation decoder however decode_first_frame exits.
struct AnimDecoderGuard {
  WebPAnimDecoder* decoder;
  ~AnimDecoderGuard() { WebPAnimDecoderDelete(decoder); }
};

Image decode_first_frame(std::span<const uint8_t> bytes, bool has_alpha, const DecodeLimits& limits) {
  WebPAnimDecoderOptions options;
  if (!WebPAnimDecoderOptionsInit(&options)) fail("libwebp version mismatch");
  options.color_mode = MODE_RGBA;
  options.use_threads = 0;
  const WebPData data{bytes.data(), bytes.size()};
  // WebPAnimDecoderNew allocates the canvas, so the size is checked from the demuxer first.
  WebPDemuxer* demuxer = WebPDemux(&data);
  if (demuxer == nullptr) fail("corrupt animation");
  const uint32_t width = WebPDemuxGetI(demuxer, WEBP_FF_CANVAS_WIDTH);
  const uint32_t height = WebPDemuxGetI(demuxer, WEBP_FF_CANVAS_HEIGHT);
  WebPDemuxDelete(demuxer);
  check_image_size("WebP", width, height, limits);
  AnimDecoderGuard guard{WebPAnimDecoderNew(&data, &options)};
  if (guard.decoder == nullptr) fail("corrupt animation");
  uint8_t* rgba = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(guard.decoder, &rgba, &timestamp))
    fail("corrupt image data in the first frame");
  Image image = make_image(static_cast<int32_t>(width), static_cast<int32_t>(height));
  const size_t n_pixels = static_cast<size_t>(width) * height;
  if (has_alpha) image.alpha.resize(n_pixels);
  for (size_t i = 0; i < n_pixels; ++i) {
    for (int c = 0; c < 3; ++c) image.rgb[3 * i + c] = rgba[4 * i + c];
    if (has_alpha) image.alpha[i] = rgba[4 * i + 3];
  }
  return image;
}

}  // namespace

Image decode_webp(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  WebPBitstreamFeatures features;
  const VP8StatusCode header_status = WebPGetFeatures(bytes.data(), bytes.size(), &features);
  if (header_status != VP8_STATUS_OK) fail(std::string("invalid header: ") + status_text(header_status));
  if (features.has_animation) return decode_first_frame(bytes, features.has_alpha, limits);
  check_image_size("WebP", features.width, features.height, limits);

  const size_t width = features.width, height = features.height;
  Image image = make_image(features.width, features.height);
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) fail("libwebp version mismatch");
  config.output.is_external_memory = 1;
  std::vector<uint8_t> rgba;
  if (features.has_alpha) {
    rgba.resize(width * height * 4);
    config.output.colorspace = MODE_RGBA;
    config.output.u.RGBA = {rgba.data(), static_cast<int>(width * 4), rgba.size()};
  } else {
    config.output.colorspace = MODE_RGB;
    config.output.u.RGBA = {image.rgb.data(), static_cast<int>(width * 3), image.rgb.size()};
  }
  const VP8StatusCode status = WebPDecode(bytes.data(), bytes.size(), &config);
  WebPFreeDecBuffer(&config.output);
  if (status != VP8_STATUS_OK) fail(std::string("corrupt image data: ") + status_text(status));
  if (features.has_alpha) {
    image.alpha.resize(width * height);
    for (size_t i = 0; i < width * height; ++i) {
      for (int c = 0; c < 3; ++c) image.rgb[3 * i + c] = rgba[4 * i + c];
      image.alpha[i] = rgba[4 * i + 3];
    }
  }
  return image;
}

}  // namespace mmrt::image
