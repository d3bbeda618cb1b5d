// Access to tests/fixtures/images (written by tools/fixtures/make_image_goldens.py).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <cstring>

#include <boost/json.hpp>

#include "core/util/json.hpp"

namespace mmrt::image::test {

inline std::filesystem::path fixture_dir() {
  return std::filesystem::path(MMRT_SOURCE_DIR) / "tests/fixtures/images";
}

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline const boost::json::object& manifest() {
  static const boost::json::object m = util::read_json_object(fixture_dir() / "manifest.json");
  return m;
}

inline std::vector<float> read_floats(const std::filesystem::path& file) {
  const std::vector<uint8_t> bytes = read_bytes(file);
  std::vector<float> values(bytes.size() / 4);
  std::memcpy(values.data(), bytes.data(), values.size() * 4);  // fixtures are little-endian, like the host
  return values;
}

}  // namespace mmrt::image::test
