#include "core/image/size_dict.hpp"

#include <algorithm>
#include <cmath>

#include "core/image/image.hpp"

namespace mmrt::image {

std::string SizeDict::to_string() const {
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

std::optional<SizeDict> parse_size_dict(const util::JsonObjectView& config, std::string_view key,
                                        bool default_to_square) {
  if (!config.contains(key)) return std::nullopt;
  const boost::json::value& value = *config.object().if_contains(key);
  SizeDict size;
  if (value.is_int64() || value.is_uint64()) {
    const int64_t n = config.get_int(key);
    if (default_to_square) {
      size.height = size.width = n;
    } else {
      size.shortest_edge = n;
    }
  } else if (value.is_array()) {
    const std::vector<int64_t> pair = config.get_int_list(key);
    if (pair.size() != 2) config.fail(key, "expected [height, width]");
    size.height = pair[0];
    size.width = pair[1];
  } else if (value.is_object()) {
    const util::JsonObjectView dict = config.get_object(key);
    const auto read = [&dict](const char* name, std::optional<int64_t>& field) {
      if (dict.contains(name)) field = dict.get_int(name);
    };
    read("height", size.height);
    read("width", size.width);
    read("shortest_edge", size.shortest_edge);
    read("longest_edge", size.longest_edge);
    read("max_height", size.max_height);
    read("max_width", size.max_width);
  } else {
    config.fail(key, "expected an integer, a [height, width] list or an object");
  }
  return size;
}

std::pair<int64_t, int64_t> resize_output_size(const SizeDict& size, int64_t height, int64_t width) {
  if (size.shortest_edge && size.longest_edge) {
    // get_size_with_aspect_ratio((height, width), shortest_edge, max_size=longest_edge)
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
    // get_resize_output_image_size(size=shortest_edge, default_to_square=False)
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
  throw ImageError("image processor: size " + size.to_string() +
                   " needs height+width, max_height+max_width or shortest_edge");
}

}  // namespace mmrt::image
