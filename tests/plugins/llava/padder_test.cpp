// Placeholder expansion against the Transformers processor's expanded prompt ids (goldens.json).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config.hpp"
#include "fixture.hpp"
#include "padder.hpp"

using mmrt::llava::expand_image_placeholders;
using mmrt::sdk::Error;
namespace json = mmrt::sdk::json;

TEST_CASE("llava padder: reproduces the expanded prompts of every golden case") {
  const json::Value goldens =
      json::parse(mmrt::test::read_text(mmrt::test::fixture_path("llava/goldens.json")));
  int n_cases = 0;
  for (const json::Value& c : goldens.as_array()) {
    const std::string model = c.find("model")->as_string();
    CAPTURE(c.find("name")->as_string());
    const auto config = mmrt::llava::parse_llava_config(
        mmrt::test::read_text(mmrt::test::fixture_path("llava/" + model + "/config.json")));
    const auto image_token = static_cast<int32_t>(config.image_token_index);
    const int64_t per_image = config.image_seq_length();
    std::vector<int32_t> expected;
    for (const json::Value& id : c.find("prompt_token_ids")->as_array())
      expected.push_back(static_cast<int32_t>(id.as_int()));

    // The prompt as the host tokenizes it: each run of per_image image tokens is one placeholder.
    std::vector<int32_t> prompt;
    for (size_t i = 0; i < expected.size();) {
      if (expected[i] != image_token) {
        prompt.push_back(expected[i++]);
        continue;
      }
      size_t run = 0;
      while (i + run < expected.size() && expected[i + run] == image_token) ++run;
      REQUIRE(run % per_image == 0);
      prompt.insert(prompt.end(), run / per_image, image_token);
      i += run;
    }
    const std::vector<int64_t> n_tokens(c.find("images")->as_array().size(), per_image);

    auto out = expand_image_placeholders(prompt, image_token, n_tokens);
    CHECK(out.ids == expected);
    REQUIRE(out.ranges.size() == n_tokens.size());
    for (size_t item = 0; item < out.ranges.size(); ++item) {
      const MmrtPlaceholderRange& r = out.ranges[item];
      CHECK(r.item == static_cast<int64_t>(item));
      CHECK(r.length == per_image);
      for (int64_t k = r.offset; k < r.offset + r.length; ++k) CHECK(expected[k] == image_token);
      if (item > 0) CHECK(r.offset >= out.ranges[item - 1].offset + out.ranges[item - 1].length);
    }
    ++n_cases;
  }
  CHECK(n_cases >= 5);
}

TEST_CASE("llava padder: ranges and errors") {
  const std::vector<int32_t> prompt = {1, 9, 600, 5, 600, 2};
  const std::vector<int64_t> n_tokens = {3, 2};
  auto out = expand_image_placeholders(prompt, 600, n_tokens);
  CHECK(out.ids == std::vector<int32_t>{1, 9, 600, 600, 600, 5, 600, 600, 2});
  REQUIRE(out.ranges.size() == 2);
  CHECK(out.ranges[0].offset == 2);
  CHECK(out.ranges[0].length == 3);
  CHECK(out.ranges[1].item == 1);
  CHECK(out.ranges[1].offset == 6);
  CHECK(out.ranges[1].length == 2);

  CHECK(expand_image_placeholders(std::vector<int32_t>{1, 2}, 600, {}).ids == std::vector<int32_t>{1, 2});
  CHECK_THROWS_WITH_AS(expand_image_placeholders(prompt, 600, std::vector<int64_t>{3}),
                       "prompt has 2 image placeholder(s) (token 600) but 1 image(s) were given", Error);
  CHECK_THROWS_AS(expand_image_placeholders(prompt, 600, std::vector<int64_t>{3, 0}), Error);
}
