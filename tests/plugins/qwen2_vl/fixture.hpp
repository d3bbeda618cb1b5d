// Reading the Qwen2-VL fixtures (tests/fixtures/qwen2_vl, written by
// tools/fixtures/make_qwen2_vl_fixtures.py).
#ifndef MMRT_TESTS_PLUGINS_QWEN2_VL_FIXTURE_HPP_
#define MMRT_TESTS_PLUGINS_QWEN2_VL_FIXTURE_HPP_

#include <cstdint>
#include <string>
#include <vector>

#include "mmrt/json.hpp"
#include "tests/plugins/llava/fixture.hpp"

namespace mmrt::test {

inline std::string qwen2_vl_path(const std::string& relative) {
  return fixture_path("qwen2_vl/" + relative);
}

inline sdk::json::Value read_json_file(const std::string& path) {
  return sdk::json::parse(read_text(path), path);
}

inline std::vector<int64_t> int_list(const sdk::json::Value& v) {
  std::vector<int64_t> out;
  for (const sdk::json::Value& item : v.as_array()) out.push_back(item.as_int());
  return out;
}

}  // namespace mmrt::test

#endif  // MMRT_TESTS_PLUGINS_QWEN2_VL_FIXTURE_HPP_
