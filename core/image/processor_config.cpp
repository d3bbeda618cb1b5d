#include "core/image/processor_config.hpp"

#include <cstdio>

namespace mmrt::image {
namespace {

std::array<float, 3> parse_channel_values(const util::JsonObjectView& config, std::string_view key,
                                          const std::array<float, 3>& fallback) {
  if (!config.contains(key)) return fallback;
  const boost::json::value& value = *config.object().if_contains(key);
  if (!value.is_array()) {
    const float v = static_cast<float>(config.get_double(key));
    return {v, v, v};
  }
  const std::vector<double> values = config.get_double_list(key);
  if (values.size() != 3) config.fail(key, "expected 3 values (one per RGB channel)");
  return {static_cast<float>(values[0]), static_cast<float>(values[1]), static_cast<float>(values[2])};
}

std::string exact(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

}  // namespace

NormalizeSpec parse_normalize_spec(const util::JsonObjectView& config,
                                   const std::array<float, 3>& default_mean,
                                   const std::array<float, 3>& default_std) {
  NormalizeSpec spec;
  spec.do_rescale = config.get_bool("do_rescale", true);
  spec.rescale_factor = config.get_double("rescale_factor", 1.0 / 255.0);
  spec.do_normalize = config.get_bool("do_normalize", true);
  spec.mean = parse_channel_values(config, "image_mean", default_mean);
  spec.std = parse_channel_values(config, "image_std", default_std);
  return spec;
}

ResampleFilter parse_resample(const util::JsonObjectView& config, ResampleFilter fallback) {
  if (!config.contains("resample")) return fallback;
  const int64_t code = config.get_int("resample");
  if (code < 0 || code > 5) config.fail("resample", "expected a PIL resampling code 0..5");
  return resample_filter_from_pil(code);
}

std::string to_string(const NormalizeSpec& spec) {
  std::string text = "rescale=" + std::to_string(spec.do_rescale) + ",factor=" + exact(spec.rescale_factor) +
                     ",normalize=" + std::to_string(spec.do_normalize) + ",mean=";
  for (int c = 0; c < 3; ++c) text += (c ? "/" : "") + exact(spec.mean[c]);
  text += ",std=";
  for (int c = 0; c < 3; ++c) text += (c ? "/" : "") + exact(spec.std[c]);
  return text;
}

}  // namespace mmrt::image
