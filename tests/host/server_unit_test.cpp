// The server's pure parts: base64, request parsing and conversion, the local-media policy, metrics text.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "host/server/api_error.hpp"
#include "host/server/base64.hpp"
#include "host/server/media_source.hpp"
#include "host/server/metrics.hpp"
#include "host/server/openai_request.hpp"

using namespace mmrt::server;

namespace {

std::string decoded(std::string_view text) {
  auto bytes = decode_base64(text);
  REQUIRE(bytes);
  return std::string(bytes->begin(), bytes->end());
}

// The ApiError a call throws; fails the test when it throws nothing.
template <typename F>
ApiError api_error_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  FAIL("no ApiError thrown");
  return ApiError(0, "");
}

}  // namespace

TEST_CASE("base64 decodes the RFC 4648 test vectors and rejects malformed input") {
  CHECK(decoded("") == "");
  CHECK(decoded("Zg==") == "f");
  CHECK(decoded("Zm8=") == "fo");
  CHECK(decoded("Zm9v") == "foo");
  CHECK(decoded("Zm9vYg==") == "foob");
  CHECK(decoded("Zm9vYmE=") == "fooba");
  CHECK(decoded("Zm9vYmFy") == "foobar");
  CHECK(decoded("Zm9v\nYmFy") == "foobar");
  for (const char* bad : {"Zm9", "Zg=", "Zg===", "Z===", "Zm9v=Zm9v", "Zm9v!", "Zg==Zg==", "=Zg="}) {
    CAPTURE(bad);
    CHECK_FALSE(decode_base64(bad));
  }
}

TEST_CASE("chat requests convert image_url parts to the template's image parts, in order") {
  const auto r = parse_chat_request(R"({"model": "m", "temperature": 0, "max_tokens": 5, "stop": "x",
      "messages": [{"role": "system", "content": "Be brief."},
                   {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:a"}},
                                                {"type": "text", "text": "Hi"},
                                                {"type": "image_url", "image_url": "data:b"}]}]})",
                                    {});
  CHECK(r.model == "m");
  CHECK(r.params.temperature == 0.0f);
  CHECK(r.params.max_tokens == 5);
  CHECK(r.max_tokens_given);
  CHECK(r.params.stop == std::vector<std::string>{"x"});
  CHECK(r.image_urls == std::vector<std::string>{"data:a", "data:b"});
  CHECK(r.image_params[1] == "messages[1].content[2].image_url");
  const auto expected = boost::json::parse(R"([{"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Hi"}, {"type": "image"}]}])");
  CHECK(boost::json::value(r.messages) == expected);
}

TEST_CASE("chat request defaults and options") {
  const auto r = parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "x"}],
      "stream": true, "stream_options": {"include_usage": true}, "logprobs": true, "top_logprobs": 3,
      "top_k": 7, "seed": 9, "max_completion_tokens": 4})",
                                    {});
  CHECK(r.params.temperature == 1.0f);  // OpenAI's default
  CHECK(r.stream);
  CHECK(r.include_usage);
  CHECK(r.logprobs);
  CHECK(r.params.top_logprobs == 3);
  CHECK(r.params.top_k == 7);
  CHECK(r.params.seed == 9u);
  CHECK(r.params.max_tokens == 4);
}

TEST_CASE("request errors name the field") {
  auto param_of = [](const char* body) {
    return api_error_of([&] { parse_chat_request(body, RequestLimits{2}); }).param();
  };
  CHECK(param_of(R"({"messages": []})") == "model");
  CHECK(param_of(R"({"model": "m"})") == "messages");
  CHECK(param_of(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 3})") == "n");
  CHECK(param_of(R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "video"}]}]})") ==
        "messages[0].content[0].type");
  const ApiError many = api_error_of([] {
    parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "a"}}, {"type": "image_url", "image_url": {"url": "b"}},
        {"type": "image_url", "image_url": {"url": "c"}}]}]})",
                       RequestLimits{2});
  });
  CHECK(many.status() == 400);
  CHECK(many.code() == "too_many_images");
  const ApiError bad_json = api_error_of([] { parse_chat_request("{", {}); });
  CHECK(bad_json.status() == 400);
  const auto body = boost::json::parse(bad_json.body());
  CHECK(body.at("error").at("type") == "invalid_request_error");
  CHECK(body.at("error").at("param").is_null());
}

TEST_CASE("completion requests take one prompt string and optional images") {
  const auto r = parse_completion_request(R"({"model": "m", "prompt": ["A <image> B"], "images": ["data:x"],
      "logprobs": 2})",
                                          {});
  CHECK(r.prompt == "A <image> B");
  CHECK(r.image_urls == std::vector<std::string>{"data:x"});
  CHECK(r.logprobs);
  CHECK(r.params.top_logprobs == 2);
  CHECK(api_error_of([] {
          parse_completion_request(R"({"model": "m", "prompt": ["a", "b"]})", {});
        }).param() == "prompt");
}

TEST_CASE("local media must lie inside the allowed directory") {
  const auto root = std::filesystem::temp_directory_path() / "mmrt_server_unit_media";
  std::filesystem::create_directories(root / "allowed");
  std::filesystem::create_directories(root / "allowed2");
  std::ofstream(root / "allowed" / "a.png") << "PNGDATA";
  std::ofstream(root / "allowed2" / "b.png") << "OTHER";
  MediaPolicy policy;
  CHECK(api_error_of([&] { load_image_url((root / "allowed" / "a.png").string(), policy, "p"); }).param() ==
        "p");
  policy.allowed_local_dir = std::filesystem::canonical(root / "allowed");
  const auto bytes = load_image_url("file://" + (root / "allowed" / "a.png").string(), policy, "p");
  CHECK(std::string(bytes.begin(), bytes.end()) == "PNGDATA");
  CHECK_THROWS_AS(load_image_url((root / "allowed2" / "b.png").string(), policy, "p"), ApiError);
  CHECK_THROWS_AS(load_image_url((root / "allowed" / ".." / "allowed2" / "b.png").string(), policy, "p"),
                  ApiError);
  CHECK(api_error_of([&] { load_image_url("https://example.com/x.png", policy, "p"); }).code() ==
        "remote_media_disabled");
  CHECK(load_image_url("data:image/png;base64,Zm9v", policy, "p") == std::vector<uint8_t>{'f', 'o', 'o'});
  std::filesystem::remove_all(root);
}

TEST_CASE("histograms render cumulative Prometheus buckets") {
  Histogram h({1, 2, 5});
  for (double v : {0.5, 1.0, 1.5, 4.0, 10.0}) h.observe(v);
  std::string out;
  h.render(out, "x_seconds", "help");
  CHECK(out.find("x_seconds_bucket{le=\"1\"} 2\n") != std::string::npos);
  CHECK(out.find("x_seconds_bucket{le=\"2\"} 3\n") != std::string::npos);
  CHECK(out.find("x_seconds_bucket{le=\"5\"} 4\n") != std::string::npos);
  CHECK(out.find("x_seconds_bucket{le=\"+Inf\"} 5\n") != std::string::npos);
  CHECK(out.find("x_seconds_sum 17\n") != std::string::npos);
  CHECK(out.find("x_seconds_count 5\n") != std::string::npos);
}
