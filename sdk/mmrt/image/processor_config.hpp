// The settings every Hugging Face image processor shares, read from preprocessor_config.json: transformers'
// SizeDict ("size", "crop_size", "pad_size") with PilBackend.resize's output-size rules, the rescale and
// normalize settings, and the PIL resampling filter. Pure functions; errors name the key.
#ifndef MMRT_SDK_IMAGE_PROCESSOR_CONFIG_HPP_
#define MMRT_SDK_IMAGE_PROCESSOR_CONFIG_HPP_

#include <mmrt_abi.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "mmrt/image/primitives.hpp"
#include "mmrt/json.hpp"
#include "mmrt/status.hpp"

namespace mmrt::sdk::image {

inline constexpr std::array<float, 3> kOpenaiClipMean{0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr std::array<float, 3> kOpenaiClipStd{0.26862954f, 0.26130258f, 0.27577711f};
inline constexpr std::array<float, 3> kImagenetDefaultMean{0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImagenetDefaultStd{0.229f, 0.224f, 0.225f};

struct SizeDict {
  std::optional<int64_t> height, width, shortest_edge, longest_edge, max_height, max_width;

  // Canonical "height=336,width=336" text (set keys only, fixed order), for fingerprints and messages.
  std::string to_string() const {
    std::string text;
    const auto add = [&text](const char* name, const std::optional<int64_t>& value) {
      if (!value) return;
      if (!text.empty()) text += ",";
      text += std::string(name) + "=" + std::to_string(*value);
    };
    add("height", height);
    add("width", width);
    add("shortest_edge", shortest_edge);
    add("longest_edge", longest_edge);
    add("max_height", max_height);
    add("max_width", max_width);
    return text.empty() ? "none" : text;
  }
};

// get_size_dict(): an object is read key by key; an integer becomes {height, width} when default_to_square,
// else {shortest_edge}; a two-element list is (height, width). nullopt when the key is absent or null.
inline std::optional<SizeDict> parse_size_dict(const json::Reader& config, std::string_view key,
                                               bool default_to_square) {
  const json::Value* value = config.find(key);
  if (value == nullptr) return std::nullopt;
  SizeDict size;
  if (value->is_number()) {
    const int64_t n = config.require_int(key);
    if (default_to_square) {
      size.height = size.width = n;
    } else {
      size.shortest_edge = n;
    }
  } else if (value->is_array()) {
    const std::vector<int64_t> pair = config.get_int_list(key, {});
    require(pair.size() == 2, MMRT_STATUS_INVALID_ARGUMENT, config.where(key) + "expected [height, width]");
    size.height = pair[0];
    size.width = pair[1];
  } else if (value->is_object()) {
    const json::Reader dict = config.child(key);
    const auto read = [&dict](const char* name, std::optional<int64_t>& field) {
      if (dict.has(name)) field = dict.require_int(name);
    };
    read("height", size.height);
    read("width", size.width);
    read("shortest_edge", size.shortest_edge);
    read("longest_edge", size.longest_edge);
    read("max_height", size.max_height);
    read("max_width", size.max_width);
  } else {
    throw Error(MMRT_STATUS_INVALID_ARGUMENT,
                config.where(key) + "expected an integer, a [height, width] list or an object");
  }
  return size;
}

// PilBackend.resize's output (height, width) for an image of (height, width), by the first matching rule:
// shortest_edge + longest_edge (get_size_with_aspect_ratio), shortest_edge (get_resize_output_image_size with
// int() truncation), max_height + max_width, height + width.
inline std::pair<int64_t, int64_t> resize_output_size(const SizeDict& size, int64_t height, int64_t width) {
  if (size.shortest_edge && size.longest_edge) {
    int64_t target = *size.shortest_edge;
    const double max_size = static_cast<double>(*size.longest_edge);
    const double min_original = static_cast<double>(std::min(height, width));
    const double max_original = static_cast<double>(std::max(height, width));
    std::optional<double> raw_size;
    if (max_original / min_original * target > max_size) {
      raw_size = max_size * min_original / max_original;
      target = static_cast<int64_t>(std::nearbyint(*raw_size));  // Python round(): half to even
    }
    if ((height <= width && height == target) || (width <= height && width == target)) return {height, width};
    const double base = raw_size ? *raw_size : static_cast<double>(target);
    if (width < height) return {static_cast<int64_t>(base * height / width), target};
    return {target, static_cast<int64_t>(base * width / height)};
  }
  if (size.shortest_edge) {
    const int64_t short_side = std::min(height, width), long_side = std::max(height, width);
    const int64_t new_short = *size.shortest_edge;
    const int64_t new_long = static_cast<int64_t>(static_cast<double>(new_short * long_side) / short_side);
    return width <= height ? std::pair{new_long, new_short} : std::pair{new_short, new_long};
  }
  if (size.max_height && size.max_width) {
    const double scale = std::min(static_cast<double>(*size.max_height) / height,
                                  static_cast<double>(*size.max_width) / width);
    return {static_cast<int64_t>(height * scale), static_cast<int64_t>(width * scale)};
  }
  if (size.height && size.width) return {*size.height, *size.width};
  throw Error(MMRT_STATUS_INVALID_ARGUMENT, "image processor: size " + size.to_string() +
                                                " needs height+width, max_height+max_width or shortest_edge");
}

namespace detail {

inline std::array<float, 3> parse_channel_values(const json::Reader& config, std::string_view key,
                                                 const std::array<float, 3>& fallback) {
  const json::Value* value = config.find(key);
  if (value == nullptr) return fallback;
  if (value->is_number()) {
    const float v = static_cast<float>(value->as_double());
    return {v, v, v};
  }
  require(value->is_array() && value->as_array().size() == 3, MMRT_STATUS_INVALID_ARGUMENT,
          config.where(key) + "expected 3 values (one per RGB channel)");
  std::array<float, 3> out{};
  for (size_t c = 0; c < 3; ++c) {
    const json::Value& item = value->as_array()[c];
    require(item.is_number(), MMRT_STATUS_INVALID_ARGUMENT, config.where(key) + "expected numbers");
    out[c] = static_cast<float>(item.as_double());
  }
  return out;
}

inline std::string exact(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

}  // namespace detail

// do_rescale / rescale_factor / do_normalize / image_mean / image_std (a single number applies to all three
// channels). Means and stds are stored as float32, as numpy does.
inline NormalizeSpec parse_normalize_spec(const json::Reader& config,
                                          const std::array<float, 3>& default_mean,
                                          const std::array<float, 3>& default_std) {
  NormalizeSpec spec;
  spec.do_rescale = config.get_bool("do_rescale", true);
  spec.rescale_factor = config.get_double("rescale_factor", 1.0 / 255.0);
  spec.do_normalize = config.get_bool("do_normalize", true);
  spec.mean = detail::parse_channel_values(config, "image_mean", default_mean);
  spec.std = detail::parse_channel_values(config, "image_std", default_std);
  return spec;
}

// "rescale=1,factor=0.00392156862745098,normalize=1,mean=...,std=..." with round-trip precision.
inline std::string to_string(const NormalizeSpec& spec) {
  std::string text = "rescale=" + std::to_string(spec.do_rescale) +
                     ",factor=" + detail::exact(spec.rescale_factor) +
                     ",normalize=" + std::to_string(spec.do_normalize) + ",mean=";
  for (int c = 0; c < 3; ++c) text += (c ? "/" : "") + detail::exact(spec.mean[c]);
  text += ",std=";
  for (int c = 0; c < 3; ++c) text += (c ? "/" : "") + detail::exact(spec.std[c]);
  return text;
}

// The "resample" key: a PIL code 0..5 (MMRT_RESAMPLE_*), or `fallback` when absent.
inline int32_t parse_resample(const json::Reader& config, int32_t fallback) {
  if (!config.has("resample")) return fallback;
  const int64_t code = config.require_int("resample");
  require(code >= 0 && code <= 5, MMRT_STATUS_INVALID_ARGUMENT,
          config.where("resample") + "expected a PIL resampling code 0..5");
  return int32_t(code);
}

inline const char* resample_name(int32_t filter) {
  static constexpr const char* kNames[] = {"nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"};
  return filter >= 0 && filter <= 5 ? kNames[filter] : "unknown";
}

// "CLIPImageProcessorFast" -> "CLIPImageProcessor"; "CLIPFeatureExtractor" -> "CLIPImageProcessor".
inline std::string canonical_processor_type(std::string type) {
  for (std::string_view suffix : {"Fast", "Pil"}) {
    if (type.size() > suffix.size() && type.ends_with(suffix)) type.resize(type.size() - suffix.size());
  }
  constexpr std::string_view kLegacySuffix = "FeatureExtractor";
  if (type.ends_with(kLegacySuffix))
    type = type.substr(0, type.size() - kLegacySuffix.size()) + "ImageProcessor";
  return type;
}

// The config's image_processor_type (else the legacy feature_extractor_type), canonical; "" when absent.
inline std::string processor_type(const json::Reader& config) {
  const char* key = config.has("image_processor_type") ? "image_processor_type" : "feature_extractor_type";
  return canonical_processor_type(config.get_string(key, ""));
}

}  // namespace mmrt::sdk::image

#endif  // MMRT_SDK_IMAGE_PROCESSOR_CONFIG_HPP_
