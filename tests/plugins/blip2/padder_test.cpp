// The query-token padder against the Transformers processor's input_ids (goldens.json).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config.hpp"
#include "fixture.hpp"
#include "padder.hpp"

using mmrt::blip2::prepend_query_tokens;
using mmrt::sdk::Error;
namespace json = mmrt::sdk::json;

TEST_CASE("blip2 padder: reproduces the processor's input_ids of every golden case") {
  const json::Value goldens =
      json::parse(mmrt::test::read_text(mmrt::test::fixture_path("blip2/goldens.json")));
  int n_cases = 0;
  for (const json::Value& c : goldens.as_array()) {
    CAPTURE(c.find("name")->as_string());
    const auto config = mmrt::blip2::parse_blip2_config(mmrt::test::read_text(
        mmrt::test::fixture_path("blip2/" + c.find("model")->as_string() + "/config.json")));
    std::vector<int32_t> expected;
    for (const json::Value& id : c.find("prompt_token_ids")->as_array()) {
      expected.push_back(static_cast<int32_t>(id.as_int()));
    }
    // What the host tokenizes: the text alone, BOS first (the goldens' ids after the query run).
    const size_t q = static_cast<size_t>(config.num_query_tokens);
    REQUIRE(expected.size() > q);
    const std::vector<int32_t> text(expected.begin() + static_cast<std::ptrdiff_t>(q), expected.end());
    CHECK(text.front() == 2);  // </s> as BOS

    auto out = prepend_query_tokens(text, config.query_placeholder_id(),
                                    std::vector<int64_t>{config.num_query_tokens}, true);
    CHECK(out.ids == expected);
    REQUIRE(out.ranges.size() == 1);
    CHECK(out.ranges[0].item == 0);
    CHECK(out.ranges[0].offset == 0);
    CHECK(out.ranges[0].length == config.num_query_tokens);
    ++n_cases;
  }
  CHECK(n_cases >= 8);
}

TEST_CASE("blip2 padder: text only, several images, empty items") {
  const std::vector<int32_t> ids = {2, 10, 11};
  SUBCASE("a text-only prompt passes through") {
    auto out = prepend_query_tokens(ids, 360, {}, true);
    CHECK(out.ids == ids);
    CHECK(out.ranges.empty());
  }
  SUBCASE("two images are refused") {
    CHECK_THROWS_WITH_AS(prepend_query_tokens(ids, 360, std::vector<int64_t>{8, 8}, true),
                         "BLIP-2 takes one image per prompt, 2 were given", Error);
  }
  SUBCASE("an image without tokens is refused") {
    CHECK_THROWS_AS(prepend_query_tokens(ids, 360, std::vector<int64_t>{0}, true), Error);
  }
  SUBCASE("a prompt that already holds the image token is refused") {
    const std::vector<int32_t> typed = {2, 360, 11};
    CHECK_THROWS_WITH_AS(prepend_query_tokens(typed, 360, std::vector<int64_t>{8}, true),
                         doctest::Contains("the prompt contains the image token (id 360)"), Error);
    // The pad id of checkpoints without image_token_index may appear in text: nothing to refuse there.
    CHECK(prepend_query_tokens(typed, 360, std::vector<int64_t>{2}, false).ids ==
          std::vector<int32_t>{360, 360, 2, 360, 11});
  }
  SUBCASE("an empty prompt with an image is the query run alone") {
    auto out = prepend_query_tokens({}, 7, std::vector<int64_t>{3}, true);
    CHECK(out.ids == std::vector<int32_t>{7, 7, 7});
  }
}
