// transformers' SizeDict: the "size" / "crop_size" / "pad_size" entries of preprocessor_config.json, and the
// output-size rules PilBackend.resize applies to them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/util/json.hpp"

namespace mmrt::image {

struct SizeDict {
  std::optional<int64_t> height, width, shortest_edge, longest_edge, max_height, max_width;

  // Canonical "height=336,width=336" text (set keys only, fixed order), for fingerprints and messages.
  std::string to_string() const;
};

// get_size_dict(): an object is read key by key; an integer becomes {height, width} when default_to_square,
// else {shortest_edge}; a two-element list is (height, width). Returns nullopt when the key is absent or
// null. Throws util::JsonError naming the key for any other shape.
std::optional<SizeDict> parse_size_dict(const util::JsonObjectView& config, std::string_view key,
                                        bool default_to_square);

// PilBackend.resize's output (height, width) for an image of (height, width), by the first matching rule:
// shortest_edge + longest_edge (get_size_with_aspect_ratio), shortest_edge (get_resize_output_image_size with
// int() truncation), max_height + max_width, height + width. Throws ImageError when none applies.
std::pair<int64_t, int64_t> resize_output_size(const SizeDict& size, int64_t height, int64_t width);

}  // namespace mmrt::image
