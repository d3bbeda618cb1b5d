#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "mmrt/json.hpp"

using mmrt::sdk::Error;
namespace json = mmrt::sdk::json;

namespace {

std::string error_of(std::string_view text) {
  try {
    json::parse(text, "t.json");
  } catch (const Error& e) {
    CHECK(e.code() == MMRT_STATUS_INVALID_ARGUMENT);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("json: scalars and containers") {
  json::Value v = json::parse(R"( {"a": 1, "b": [true, false, null], "c": {"d": "x"}, "e": -2.5} )");
  REQUIRE(v.is_object());
  CHECK(v.find("a")->as_int() == 1);
  const auto& b = v.find("b")->as_array();
  REQUIRE(b.size() == 3);
  CHECK(b[0].as_bool());
  CHECK_FALSE(b[1].as_bool());
  CHECK(b[2].is_null());
  CHECK(v.find("c")->find("d")->as_string() == "x");
  CHECK(v.find("e")->as_double() == -2.5);
  CHECK(v.find("missing") == nullptr);
  CHECK(v.as_object()[0].first == "a");  // file order kept
  CHECK(v.as_object()[3].first == "e");
  CHECK(json::parse("[]").as_array().empty());
  CHECK(json::parse("{}").as_object().empty());
  CHECK(json::parse(" \t\r\n 7 \n").as_int() == 7);
}

TEST_CASE("json: a repeated key resolves to the last one, as in Python") {
  json::Value v = json::parse(R"({"k": 1, "k": 2})");
  CHECK(v.find("k")->as_int() == 2);
}

TEST_CASE("json: numbers") {
  CHECK(json::parse("0").as_int() == 0);
  CHECK(json::parse("-0").as_int() == 0);
  CHECK(json::parse("9223372036854775807").as_int() == INT64_MAX);
  CHECK(json::parse("-9223372036854775808").as_int() == INT64_MIN);
  // Larger than int64: kept as the nearest double, like float(int) in Python.
  CHECK(json::parse("18446744073709551616").as_double() == 18446744073709551616.0);
  CHECK_FALSE(json::parse("18446744073709551616").is_integer());
  CHECK(json::parse("1e-05").as_double() == 1e-05);
  CHECK(json::parse("1E+2").as_double() == 100.0);
  CHECK(json::parse("10000.0").as_int() == 10000);  // integral doubles read as ints
  CHECK(json::parse("0.1").as_double() == 0.1);     // correctly rounded
  CHECK(json::parse("1e400").as_double() == INFINITY);
  CHECK(json::parse("-1e400").as_double() == -INFINITY);
  CHECK(json::parse("1e-400").as_double() == 0.0);
  CHECK(std::isnan(json::parse("NaN").as_double()));
  CHECK(json::parse("Infinity").as_double() == INFINITY);
  CHECK(json::parse("-Infinity").as_double() == -INFINITY);
  CHECK_THROWS_AS(json::parse("1.5").as_int(), Error);
  for (const char* bad : {"01", "1.", ".5", "+1", "-", "1e", "1e+", "- 1", "0x10", "1.e3"}) {
    CAPTURE(bad);
    CHECK(error_of(bad) != "");
  }
}

TEST_CASE("json: strings and escapes") {
  CHECK(json::parse(R"("a\"b\\c\/d\b\f\n\r\t")").as_string() == "a\"b\\c/d\b\f\n\r\t");
  CHECK(json::parse(R"("\u0041\u00e9\u20AC")").as_string() == "A\xC3\xA9\xE2\x82\xAC");
  CHECK(json::parse(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");  // U+1F600 from a surrogate pair
  CHECK(json::parse(R"("\ud83dx")").as_string() == "\xEF\xBF\xBDx");          // lone high surrogate -> U+FFFD
  CHECK(json::parse(R"("\ude00")").as_string() == "\xEF\xBF\xBD");            // lone low surrogate
  CHECK(json::parse("\"caf\xC3\xA9\"").as_string() == "caf\xC3\xA9");         // raw UTF-8 passes through
  CHECK(error_of("\"a\nb\"") != "");                                          // raw control character
  CHECK(error_of(R"("\x")") != "");
  CHECK(error_of(R"("\u12")") != "");
  CHECK(error_of(R"("\u12G4")") != "");
  CHECK(error_of("\"abc") != "");
}

TEST_CASE("json: malformed documents name the place") {
  CHECK(error_of("{\n  \"a\": ,\n}").find("t.json:2:8:") == 0);
  CHECK(error_of("[1, 2,]") != "");
  CHECK(error_of("{\"a\": 1,}") != "");
  CHECK(error_of("{\"a\" 1}") != "");
  CHECK(error_of("{1: 2}") != "");
  CHECK(error_of("[1 2]") != "");
  CHECK(error_of("") != "");
  CHECK(error_of("tru") != "");
  CHECK(error_of("{} x") != "");
  CHECK(error_of("[") != "");
}

TEST_CASE("json: nesting is bounded instead of exhausting the stack") {
  std::string ok = std::string(200, '[') + std::string(200, ']');
  CHECK(json::parse(ok).is_array());
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(error_of(deep).find("nesting") != std::string::npos);
}

TEST_CASE("json: Reader reads typed keys and names the key path in errors") {
  json::Value v = json::parse(R"({"text_config": {"hidden_size": 64, "eps": 1e-5, "act": "silu", "n": null,
                                  "layer": [-3, -1], "flag": true, "bad": "x", "half": 1.5}})");
  json::Reader top(v, "");
  json::Reader text = top.child("text_config");
  CHECK(text.get_int("hidden_size", 0) == 64);
  CHECK(text.get_int("absent", 7) == 7);
  CHECK(text.get_int("n", 9) == 9);  // null means absent (Python None)
  CHECK(text.get_double("eps", 0) == 1e-5);
  CHECK(text.get_double("hidden_size", 0) == 64.0);
  CHECK(text.get_string("act", "") == "silu");
  CHECK(text.get_bool("flag", false));
  CHECK(text.get_int_list("layer", {}) == std::vector<int64_t>{-3, -1});
  CHECK(text.get_int_list("hidden_size", {}) == std::vector<int64_t>{64});
  CHECK(text.require_int("hidden_size") == 64);
  CHECK_THROWS_WITH_AS(text.get_int("bad", 0), "text_config.bad: expected an integer, got string", Error);
  CHECK_THROWS_WITH_AS(text.get_int("half", 0), "text_config.half: expected an integer, got number", Error);
  CHECK_THROWS_WITH_AS(text.require_int("absent"), "text_config.absent: missing", Error);
  CHECK_THROWS_WITH_AS(text.get_bool("act", false), "text_config.act: expected a boolean, got string", Error);
  CHECK_FALSE(top.child("vision_config").has("x"));   // a missing child reads as empty
  CHECK_THROWS_AS(text.child("hidden_size"), Error);  // not an object
}

TEST_CASE("json: a Transformers-written config.json parses with the values the file holds") {
  std::ifstream in(MMRT_SOURCE_DIR "/tests/fixtures/llava/llava_layers_list/config.json");
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  json::Value v = json::parse(text.str(), "config.json");
  json::Reader top(v, "");
  CHECK(top.get_string("model_type", "") == "llava");
  CHECK(top.get_int_list("vision_feature_layer", {}) == std::vector<int64_t>{-3, -1});
  CHECK(top.child("text_config").child("rope_parameters").get_double("rope_theta", 0) == 500000.0);
  CHECK(top.child("text_config").get_double("rms_norm_eps", 0) == 1e-05);
  CHECK(v.find("architectures")->as_array()[0].as_string() == "LlavaForConditionalGeneration");
}
