// Reading the LLaVA fixtures (tests/fixtures/llava, written by tools/fixtures/make_llava_fixtures.py).
#ifndef MMRT_TESTS_PLUGINS_LLAVA_FIXTURE_HPP_
#define MMRT_TESTS_PLUGINS_LLAVA_FIXTURE_HPP_

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fake_weights.hpp"
#include "mmrt/json.hpp"

namespace mmrt::test {

inline std::string fixture_path(const std::string& relative) {
  return std::string(MMRT_SOURCE_DIR) + "/tests/fixtures/" + relative;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The tensor names and shapes of a safetensors file (its JSON header), as f32 fake weights.
inline FakeWeights safetensors_shapes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  unsigned char size_bytes[8];
  in.read(reinterpret_cast<char*>(size_bytes), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | size_bytes[i];  // little-endian u64
  std::string header(n, '\0');
  in.read(header.data(), static_cast<std::streamsize>(n));
  sdk::json::Value v = sdk::json::parse(header, path);
  FakeWeights w;
  for (const auto& [name, info] : v.as_object()) {
    if (name == "__metadata__") continue;
    std::vector<int64_t> shape;
    for (const sdk::json::Value& d : info.find("shape")->as_array()) shape.push_back(d.as_int());
    w.shapes[name] = shape;
  }
  return w;
}

}  // namespace mmrt::test

#endif  // MMRT_TESTS_PLUGINS_LLAVA_FIXTURE_HPP_
