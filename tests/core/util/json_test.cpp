// JsonObjectView: typed reads, fallbacks, and errors that carry the origin and the dotted key path.
#include "core/util/json.hpp"

#include <doctest/doctest.h>

namespace {

using mmrt::util::JsonError;
using mmrt::util::JsonObjectView;

boost::json::object sample() {
  return boost::json::parse(R"({
    "n": 7, "two": 2.0, "half": 2.5, "huge": 18446744073709551615, "theta": 10000, "eps": 1e-6,
    "flag": true, "name": "llava", "none": null, "ids": [1, 2, 3], "mean": [0.5, 1],
    "text_config": {"hidden_size": "big", "vision": {"depth": [1]}}
  })")
      .as_object();
}

}  // namespace

TEST_CASE("typed getters read present values and fall back on absent or null ones") {
  boost::json::object object = sample();
  JsonObjectView view(object, "cfg.json");
  CHECK(view.get_int("n") == 7);
  CHECK(view.get_int("two") == 2);
  CHECK(view.get_int("absent", -1) == -1);
  CHECK(view.get_int("none", -1) == -1);
  CHECK(view.get_double("theta") == 10000.0);
  CHECK(view.get_double("eps") == 1e-6);
  CHECK(view.get_bool("flag"));
  CHECK(view.get_bool("absent", true));
  CHECK(view.get_string("name") == "llava");
  CHECK(view.get_string("absent", "x") == "x");
  CHECK(view.get_int_list("ids") == std::vector<int64_t>{1, 2, 3});
  CHECK(view.get_double_list("mean") == std::vector<double>{0.5, 1.0});
  CHECK(view.contains("n"));
  CHECK_FALSE(view.contains("none"));
  CHECK(view.get_object("absent").object().empty());
}

TEST_CASE("type errors name the origin and the key path") {
  boost::json::object object = sample();
  JsonObjectView view(object, "cfg.json");
  CHECK_THROWS_WITH_AS(view.get_int("half"), "cfg.json: half: expected an integer, got 2.5E0", JsonError);
  CHECK_THROWS_WITH_AS(view.get_int("huge"),
                       "cfg.json: huge: integer 18446744073709551615 does not fit in int64", JsonError);
  CHECK_THROWS_WITH_AS(view.get_int("name", 0), "cfg.json: name: expected an integer, got string", JsonError);
  CHECK_THROWS_WITH_AS(view.get_int("absent"), "cfg.json: absent: required key is missing", JsonError);
  CHECK_THROWS_WITH_AS(view.get_bool("n"), "cfg.json: n: expected a boolean, got int64", JsonError);
  CHECK_THROWS_WITH_AS(view.get_object("text_config").get_int("hidden_size", 0),
                       "cfg.json: text_config.hidden_size: expected an integer, got string", JsonError);
  CHECK_THROWS_WITH_AS(view.get_object("text_config").get_object("vision").get_int_list("depth2"),
                       "cfg.json: text_config.vision.depth2: required key is missing", JsonError);
  CHECK_THROWS_WITH_AS(view.get_object("absent").get_int("x"), "cfg.json: absent.x: required key is missing",
                       JsonError);
  CHECK_THROWS_WITH_AS(view.get_object("ids"), "cfg.json: ids: expected an object, got array", JsonError);
  CHECK_THROWS_WITH_AS(view.fail("resample", "unknown value 9"), "cfg.json: resample: unknown value 9",
                       JsonError);
}
