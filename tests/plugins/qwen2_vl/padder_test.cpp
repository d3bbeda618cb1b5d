// The padder against Transformers: for every golden case, the prompt with one <|image_pad|> per image
// expands to the processor's input_ids and to get_rope_index's three position rows and delta.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fixture.hpp"
#include "padder.hpp"

using mmrt::qwen2_vl::expand_prompt;
using mmrt::qwen2_vl::Grid;
using mmrt::sdk::Error;
using mmrt::test::int_list;

namespace {

constexpr int32_t kImagePad = 1512;

// The tokenized prompt before expansion: each run of image tokens back to one placeholder (the golden
// prompts separate images with <|vision_end|><|vision_start|>).
std::vector<int32_t> collapse_image_runs(const std::vector<int64_t>& ids) {
  std::vector<int32_t> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == kImagePad && i > 0 && ids[i - 1] == kImagePad) continue;
    out.push_back(static_cast<int32_t>(ids[i]));
  }
  return out;
}

}  // namespace

TEST_CASE("qwen2_vl padder: expansion and M-RoPE positions equal Transformers' on every golden") {
  const mmrt::sdk::json::Value goldens =
      mmrt::test::read_json_file(mmrt::test::qwen2_vl_path("goldens.json"));
  int n_image_cases = 0;
  for (const mmrt::sdk::json::Value& c : goldens.as_array()) {
    CAPTURE(c.find("name")->as_string());
    const std::vector<int64_t> want_ids = int_list(*c.find("prompt_token_ids"));
    std::vector<Grid> grids;
    if (const mmrt::sdk::json::Value* g = c.find("image_grid_thw")) {
      for (const mmrt::sdk::json::Value& thw : g->as_array()) {
        const std::vector<int64_t> v = int_list(thw);
        grids.push_back({v[0], v[1], v[2]});
      }
    }
    const auto out = expand_prompt(collapse_image_runs(want_ids), kImagePad, grids, 2);
    CHECK(std::vector<int64_t>(out.ids.begin(), out.ids.end()) == want_ids);
    const auto n = static_cast<int64_t>(want_ids.size());
    REQUIRE(out.positions.size() == static_cast<size_t>(3 * n));
    if (grids.empty()) {  // text only: 0..n-1 on every row
      for (int64_t i = 0; i < 3 * n; ++i) CHECK(out.positions[i] == i % n);
      CHECK(out.next_position_delta == 0);
      CHECK(out.ranges.empty());
      continue;
    }
    ++n_image_cases;
    const auto& rows = c.find("rope_positions")->as_array();
    for (int64_t axis = 0; axis < 3; ++axis) {
      const std::vector<int64_t> want = int_list(rows[axis]);
      CHECK(std::vector<int64_t>(out.positions.begin() + axis * n, out.positions.begin() + (axis + 1) * n) ==
            want);
    }
    CHECK(out.next_position_delta == c.find("rope_delta")->as_int());
    REQUIRE(out.ranges.size() == grids.size());
    for (size_t i = 0; i < grids.size(); ++i) {
      CHECK(out.ranges[i].item == static_cast<int64_t>(i));
      CHECK(out.ranges[i].length == grids[i].n_patches() / 4);
      CHECK(want_ids[out.ranges[i].offset] == kImagePad);
      CHECK(want_ids[out.ranges[i].offset - 1] == 1509);  // <|vision_start|>
    }
  }
  CHECK(n_image_cases >= 8);
}

TEST_CASE("qwen2_vl padder: the worked example and bad input") {
  // padder.hpp: [A, B, vs, pad, ve, C] with grid (1, 4, 6)
  const auto out =
      expand_prompt(std::vector<int32_t>{5, 6, 1509, kImagePad, 1510, 7}, kImagePad, {{{1, 4, 6}}}, 2);
  CHECK(out.ids.size() == 11);
  const std::vector<int32_t> want = {0, 1, 2, 3, 3, 3, 3, 3, 3, 6, 7,   // t
                                     0, 1, 2, 3, 3, 3, 4, 4, 4, 6, 7,   // h
                                     0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7};  // w
  CHECK(out.positions == want);
  CHECK(out.next_position_delta == -3);

  CHECK_THROWS_WITH_AS(expand_prompt(std::vector<int32_t>{1, kImagePad}, kImagePad, {}, 2),
                       doctest::Contains("1 image placeholder(s)"), Error);
  CHECK_THROWS_WITH_AS(expand_prompt(std::vector<int32_t>{kImagePad}, kImagePad, {{{1, 3, 4}}}, 2),
                       doctest::Contains("not whole 2x2 windows"), Error);
}
