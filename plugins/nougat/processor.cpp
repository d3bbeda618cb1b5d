#include "processor.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "mmrt/host.hpp"
#include "mmrt/json.hpp"
#include "mmrt/status.hpp"
#include "swin.hpp"

namespace mmrt::nougat {

using sdk::require;
using sdk::str;

namespace {

const MmrtImageApi* host_image_api() {
  const auto* api = static_cast<const MmrtImageApi*>(sdk::host_extension(MMRT_IMAGE_EXTENSION));
  require(api != nullptr && MMRT_SDK_HAS_SLOT(api, MmrtImageApi, to_rgb) &&
              MMRT_SDK_HAS_SLOT(api, MmrtImageApi, resize) && MMRT_SDK_HAS_SLOT(api, MmrtImageApi, crop) &&
              MMRT_SDK_HAS_SLOT(api, MmrtImageApi, rotate) && MMRT_SDK_HAS_SLOT(api, MmrtImageApi, to_grey) &&
              MMRT_SDK_HAS_SLOT(api, MmrtImageApi, normalize),
          MMRT_STATUS_UNIMPLEMENTED, "host lacks the image primitives of " MMRT_IMAGE_EXTENSION " (ABI 1.1)");
  return api;
}

// An RGB8 image the processor owns between primitives.
struct Rgb {
  int32_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // [height, width, 3]

  Rgb(int32_t w, int32_t h) : width(w), height(h), pixels(static_cast<size_t>(w) * h * 3) {}
  MmrtImage view() const {
    MmrtImage m{};
    m.struct_size = MMRT_SIZEOF(MmrtImage, alpha);
    m.width = width;
    m.height = height;
    m.rgb = pixels.data();
    return m;
  }
};

void read_channel_values(const sdk::json::Reader& r, const char* key, float out[3]) {
  const sdk::json::Value* v = r.find(key);
  if (v == nullptr) return;
  if (v->is_number()) {
    out[0] = out[1] = out[2] = static_cast<float>(v->as_double());
    return;
  }
  require(v->is_array() && v->as_array().size() == 3, MMRT_STATUS_INVALID_ARGUMENT,
          str(r.where(key), "expected a number or 3 numbers (one per RGB channel)"));
  for (int c = 0; c < 3; ++c) {
    const sdk::json::Value& item = v->as_array()[c];
    require(item.is_number(), MMRT_STATUS_INVALID_ARGUMENT, str(r.where(key), "expected numbers"));
    out[c] = static_cast<float>(item.as_double());
  }
}

std::string exact(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

// NougatImageProcessorPil.crop_margin: the box of pixels darker than 200 after stretching grey to [0, 255].
Rgb crop_margin(const MmrtImageApi* api, const Rgb& image) {
  const MmrtImage src = image.view();
  std::vector<uint8_t> grey(static_cast<size_t>(image.width) * image.height);
  sdk::check(api->to_grey(&src, grey.data()), "crop_margin: grey conversion");
  const auto [min_it, max_it] = std::minmax_element(grey.begin(), grey.end());
  const int min_value = *min_it, max_value = *max_it;
  if (max_value == min_value) return image;
  int32_t x_min = image.width, y_min = image.height, x_max = -1, y_max = -1;
  for (int32_t y = 0; y < image.height; ++y) {
    for (int32_t x = 0; x < image.width; ++x) {
      const double stretched =
          static_cast<double>(grey[static_cast<size_t>(y) * image.width + x] - min_value) /
          (max_value - min_value) * 255;
      if (stretched < 200) {
        x_min = std::min(x_min, x);
        x_max = std::max(x_max, x);
        y_min = std::min(y_min, y);
        y_max = std::max(y_max, y);
      }
    }
  }
  // The darkest pixel always stretches to 0, so the box is never empty.
  Rgb out(x_max - x_min + 1, y_max - y_min + 1);
  sdk::check(api->crop(&src, x_min, y_min, out.width, out.height, out.pixels.data()), "crop_margin: crop");
  return out;
}

Rgb resize(const MmrtImageApi* api, const Rgb& image, int64_t width, int64_t height, int32_t filter,
           double reducing_gap) {
  require(width > 0 && height > 0 && width <= INT32_MAX && height <= INT32_MAX, MMRT_STATUS_INVALID_ARGUMENT,
          str("NougatImageProcessor: a ", image.height, "x", image.width, " image would resize to ", height,
              "x", width));
  Rgb out(static_cast<int32_t>(width), static_cast<int32_t>(height));
  const MmrtImage src = image.view();
  sdk::check(api->resize(&src, out.width, out.height, filter, reducing_gap, out.pixels.data()),
             str("resizing ", image.width, "x", image.height, " to ", width, "x", height));
  return out;
}

}  // namespace

NougatProcessorConfig parse_nougat_processor_config(std::string_view preprocessor_config_json) {
  const sdk::json::Value root = sdk::json::parse(preprocessor_config_json, "preprocessor_config.json");
  const sdk::json::Reader r(root, "");
  NougatProcessorConfig c;
  c.do_convert_rgb = r.get_bool("do_convert_rgb", c.do_convert_rgb);
  c.do_crop_margin = r.get_bool("do_crop_margin", c.do_crop_margin);
  c.do_align_long_axis = r.get_bool("do_align_long_axis", c.do_align_long_axis);
  c.do_resize = r.get_bool("do_resize", c.do_resize);
  if (r.has("size")) {
    const sdk::json::Reader size = r.child("size");
    require(size.has("height") && size.has("width"), MMRT_STATUS_INVALID_ARGUMENT,
            str(r.where("size"), "expected {\"height\": ..., \"width\": ...}"));
    c.height = size.get_int("height", c.height);
    c.width = size.get_int("width", c.width);
  }
  require(c.height > 0 && c.width > 0 && c.height <= 65536 && c.width <= 65536, MMRT_STATUS_INVALID_ARGUMENT,
          str(r.where("size"), "must be positive (and at most 65536)"));
  c.resample = static_cast<int32_t>(r.get_int("resample", c.resample));
  require(c.resample >= MMRT_RESAMPLE_NEAREST && c.resample <= MMRT_RESAMPLE_HAMMING,
          MMRT_STATUS_INVALID_ARGUMENT, str(r.where("resample"), "expected a PIL resampling code 0..5"));
  c.do_thumbnail = r.get_bool("do_thumbnail", c.do_thumbnail);
  c.do_pad = r.get_bool("do_pad", c.do_pad);
  c.do_rescale = r.get_bool("do_rescale", c.do_rescale);
  c.rescale_factor = r.get_double("rescale_factor", c.rescale_factor);
  c.do_normalize = r.get_bool("do_normalize", c.do_normalize);
  read_channel_values(r, "image_mean", c.image_mean);
  read_channel_values(r, "image_std", c.image_std);
  return c;
}

NougatProcessor::NougatProcessor(const NougatProcessorConfig& config, const SwinConfig& encoder)
    : config_(config), encoder_(encoder), image_api_(host_image_api()) {
  const NougatProcessorConfig& c = config_;
  auto flag = [](bool b) { return b ? "1" : "0"; };
  fingerprint_ =
      str("NougatImageProcessor(pil;convert_rgb=", flag(c.do_convert_rgb),
          ";crop_margin=", flag(c.do_crop_margin), ";align_long_axis=", flag(c.do_align_long_axis),
          ";resize=", flag(c.do_resize), ";size=height=", c.height, ",width=", c.width,
          ";resample=", c.resample, ";thumbnail=", flag(c.do_thumbnail), ";pad=", flag(c.do_pad),
          ";rescale=", flag(c.do_rescale), ",factor=", exact(c.rescale_factor),
          ",normalize=", flag(c.do_normalize), ",mean=", exact(c.image_mean[0]), "/", exact(c.image_mean[1]),
          "/", exact(c.image_mean[2]), ",std=", exact(c.image_std[0]), "/", exact(c.image_std[1]), "/",
          exact(c.image_std[2]), ");swin.patch_size=", encoder.patch_size, ",stages=", encoder.n_stages());
}

int64_t NougatProcessor::max_tokens() const {
  return swin_output_rows(encoder_, config_.height, config_.width);
}

void NougatProcessor::process(const MmrtImage& image, MmrtProcessorOutput& out) {
  const NougatProcessorConfig& c = config_;
  require(out.struct_size >= MMRT_SIZEOF(MmrtProcessorOutput, n_tokens) && out.alloc_tensor != nullptr,
          MMRT_STATUS_INVALID_ARGUMENT, "MmrtProcessorOutput has no alloc_tensor/n_tokens");
  require(image.rgb != nullptr && image.width > 0 && image.height > 0, MMRT_STATUS_INVALID_ARGUMENT,
          str("an empty ", image.width, "x", image.height, " image"));
  const MmrtImageApi* api = image_api_;

  Rgb current(image.width, image.height);
  if (c.do_convert_rgb) {
    sdk::check(api->to_rgb(&image, current.pixels.data()), "convert_rgb");
  } else {
    std::copy(image.rgb, image.rgb + current.pixels.size(), current.pixels.begin());  // alpha dropped
  }
  if (c.do_crop_margin) current = crop_margin(api, current);
  if (c.do_align_long_axis && ((c.width < c.height && current.width > current.height) ||
                               (c.width > c.height && current.width < current.height))) {
    Rgb turned(current.height, current.width);
    const MmrtImage src = current.view();
    sdk::check(api->rotate(&src, 1, turned.pixels.data()), "align_long_axis");
    current = std::move(turned);
  }
  if (c.do_resize) {
    // get_resize_output_image_size(size=min(size), default_to_square=False)
    const int64_t short_side = std::min(current.height, current.width);
    const int64_t long_side = std::max(current.height, current.width);
    const int64_t new_short = std::min(c.height, c.width);
    const int64_t new_long = static_cast<int64_t>(static_cast<double>(new_short * long_side) / short_side);
    current = current.width <= current.height ? resize(api, current, new_short, new_long, c.resample, 0)
                                              : resize(api, current, new_long, new_short, c.resample, 0);
  }
  if (c.do_thumbnail) {
    int64_t height = std::min<int64_t>(current.height, c.height),
            width = std::min<int64_t>(current.width, c.width);
    if (height != current.height || width != current.width) {
      if (current.height > current.width) {
        width = static_cast<int64_t>(static_cast<double>(current.width) * height / current.height);
      } else if (current.width > current.height) {
        height = static_cast<int64_t>(static_cast<double>(current.height) * width / current.width);
      }
      current = resize(api, current, width, height, MMRT_RESAMPLE_BICUBIC, 2.0);
    }
  }
  if (c.do_pad) {
    const int64_t delta_height = c.height - current.height, delta_width = c.width - current.width;
    require(delta_height >= 0 && delta_width >= 0, MMRT_STATUS_INVALID_ARGUMENT,
            str("NougatImageProcessor: a ", current.height, "x", current.width, " image cannot be padded to ",
                c.height, "x", c.width, " (the checkpoint disables do_thumbnail)"));
    Rgb padded(static_cast<int32_t>(c.width), static_cast<int32_t>(c.height));
    const MmrtImage src = current.view();
    sdk::check(
        api->crop(&src, static_cast<int32_t>(-(delta_width / 2)), static_cast<int32_t>(-(delta_height / 2)),
                  padded.width, padded.height, padded.pixels.data()),
        "pad");
    current = std::move(padded);
  }

  const int64_t n_tokens = swin_output_rows(encoder_, current.height, current.width);
  const int64_t shape[3] = {3, current.height, current.width};
  void* data = nullptr;
  sdk::check(out.alloc_tensor(out.host_ctx, "pixel_values", sdk::kF32, 3, shape, &data),
             "allocating pixel_values");
  const MmrtImage src = current.view();
  sdk::check(
      api->normalize(&src, c.do_rescale ? c.rescale_factor : 0.0, c.do_normalize ? c.image_mean : nullptr,
                     c.do_normalize ? c.image_std : nullptr, MMRT_LAYOUT_CHW, static_cast<float*>(data)),
      "rescale and normalize");
  out.n_tokens = n_tokens;
}

}  // namespace mmrt::nougat
