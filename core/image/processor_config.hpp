// Reading the settings shared by all image processors from a preprocessor_config.json object, with each
// class's defaults where a key is absent (transformers' class attributes).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "core/image/resize.hpp"
#include "core/image/transforms.hpp"
#include "core/util/json.hpp"

namespace mmrt::image {

// Where the config came from, for error messages.
inline constexpr std::string_view kPreprocessorConfigOrigin = "preprocessor_config";

inline constexpr std::array<float, 3> kOpenaiClipMean{0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr std::array<float, 3> kOpenaiClipStd{0.26862954f, 0.26130258f, 0.27577711f};
inline constexpr std::array<float, 3> kImagenetDefaultMean{0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImagenetDefaultStd{0.229f, 0.224f, 0.225f};

// do_rescale / rescale_factor / do_normalize / image_mean / image_std (a single number applies to all three
// channels). Means and stds are stored as float32, as numpy does.
NormalizeSpec parse_normalize_spec(const util::JsonObjectView& config,
                                   const std::array<float, 3>& default_mean,
                                   const std::array<float, 3>& default_std);

ResampleFilter parse_resample(const util::JsonObjectView& config, ResampleFilter fallback);

// "rescale=1,factor=0.00392156862745098,normalize=1,mean=...,std=..." with round-trip precision.
std::string to_string(const NormalizeSpec& spec);

}  // namespace mmrt::image
