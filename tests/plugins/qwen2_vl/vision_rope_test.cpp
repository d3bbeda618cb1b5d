// The vision tower's 2-D RoPE as the plugin runs it (the host's multimodal rope with positions
// (0, row, col), mrope_section {0, Dh/4, Dh/4} and the vision inv_freq repeated twice) against
// Transformers' get_vision_position_ids + Qwen2VLVisionRotaryEmbedding + apply_rotary_pos_emb_vision.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "fixture.hpp"
#include "kernels/cpu/rope.hpp"
#include "vision.hpp"

using mmrt::qwen2_vl::Grid;

TEST_CASE("qwen2_vl vision rope: positions and rotation equal Transformers'") {
  const mmrt::sdk::json::Value g = mmrt::test::read_json_file(mmrt::test::qwen2_vl_path("vision_rope.json"));
  const std::vector<int64_t> thw = mmrt::test::int_list(*g.find("grid_thw"));
  const Grid grid{thw[0], thw[1], thw[2]};
  const int64_t n = grid.n_patches(), heads = g.find("num_heads")->as_int(),
                dh = g.find("head_dim")->as_int();

  const std::vector<Grid> grids = {grid};
  const std::vector<int32_t> positions =
      mmrt::qwen2_vl::vision_rope_positions(grids, g.find("spatial_merge_size")->as_int());
  REQUIRE(positions.size() == static_cast<size_t>(3 * n));
  const auto& want = g.find("position_ids")->as_array();
  for (int64_t i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(positions[i] == 0);
    CHECK(positions[n + i] == want[i].as_array()[0].as_int());
    CHECK(positions[2 * n + i] == want[i].as_array()[1].as_int());
  }

  std::vector<float> x;
  for (const auto& v : g.find("q")->as_array()) x.push_back(static_cast<float>(v.as_double()));
  const std::vector<float> inv_freq =
      mmrt::qwen2_vl::vision_rope_inv_freq(dh, g.find("rope_theta")->as_double());
  REQUIRE(inv_freq.size() == static_cast<size_t>(dh / 2));
  const int32_t section[3] = {0, static_cast<int32_t>(dh / 4), static_cast<int32_t>(dh / 4)};
  mmrt::cpu::mrope(x.data(), n, heads, dh, positions.data(), inv_freq.data(), section);
  const auto& rotated = g.find("rotated")->as_array();
  REQUIRE(rotated.size() == x.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - rotated[i].as_double()));
  CHECK(worst <= 1e-5);
  MESSAGE("largest |difference| from apply_rotary_pos_emb_vision: " << worst);
}
