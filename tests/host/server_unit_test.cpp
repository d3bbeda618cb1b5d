// The server's pure parts: base64, request parsing and conversion, the local-media policy, metrics text,
// the memory budget, the fair preparation queue and the Host/Origin policy.
#include <doctest/doctest.h>

#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <vector>

#include "host/server/api_error.hpp"
#include "host/server/base64.hpp"
#include "host/server/cross_site_policy.hpp"
#include "host/server/media_source.hpp"
#include "host/server/memory_budget.hpp"
#include "host/server/metrics.hpp"
#include "host/server/openai_request.hpp"
#include "host/server/preparation_queue.hpp"

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
  CHECK(param_of(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 9})") == "n");
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

TEST_CASE("unknown sampling fields are refused by name; penalties and min_p are parsed and range-checked") {
  auto request_with = [](const char* extra) {
    return std::string(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], )") + extra + "}";
  };
  auto error_of = [&](const char* extra) {
    return api_error_of([&] { parse_chat_request(request_with(extra), {}); });
  };
  CHECK(error_of(R"("mirostat": 2)").param() == "mirostat");
  CHECK(error_of(R"("mirostat": 2)").code() == "unsupported_field");
  CHECK(error_of(R"("repetition_penalty": 0)").param() == "repetition_penalty");
  CHECK(error_of(R"("min_p": 1.5)").param() == "min_p");
  CHECK(error_of(R"("frequency_penalty": 3)").param() == "frequency_penalty");
  const GenerationRequest r =
      parse_chat_request(request_with(R"("repetition_penalty": 1.3, "min_p": 0.05, "frequency_penalty": 0.5,
                      "presence_penalty": -0.25, "user": "u", "metadata": {})"),
                         {});
  CHECK(r.params.repetition_penalty == doctest::Approx(1.3));
  CHECK(r.params.min_p == doctest::Approx(0.05));
  CHECK(r.params.frequency_penalty == doctest::Approx(0.5));
  CHECK(r.params.presence_penalty == doctest::Approx(-0.25));
  CHECK(r.repetition_penalty_given);
  CHECK_FALSE(r.temperature_given);
  const ApiError parts = api_error_of([] {
    RequestLimits limits;
    limits.max_content_parts = 3;
    parse_chat_request(
        R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
        {"type": "text", "text": "b"}, {"type": "text", "text": "c"}]}]})",
        limits);
  });
  CHECK(parts.code() == "too_many_content_parts");
}

TEST_CASE("the memory budget refuses reservations past its limit and releases them when dropped") {
  MemoryBudget budget(100);
  MemoryBudget::Reservation a = budget.try_reserve(60);
  CHECK(a.bytes() == 60);
  CHECK(budget.try_reserve(50).bytes() == 0);
  {
    MemoryBudget::Reservation b = budget.try_reserve(40);
    CHECK(b.bytes() == 40);
    CHECK(budget.held() == 100);
    MemoryBudget::Reservation moved = std::move(b);
    CHECK(budget.held() == 100);
  }
  CHECK(budget.held() == 60);
  MemoryBudget::Reservation forced = budget.charge(70);  // responses are counted even past the limit
  CHECK(budget.held() == 130);
  CHECK(budget.try_reserve(1).bytes() == 0);
  forced.release();
  a.release();
  CHECK(budget.held() == 0);
}

TEST_CASE("the preparation queue takes turns between clients") {
  boost::asio::thread_pool pool(1);
  PreparationQueue queue(pool, 100);
  std::promise<void> started, gate;
  std::shared_future<void> opened = gate.get_future().share();
  std::mutex mutex;
  std::vector<std::string> order;
  // The one worker is held by a first job until every other job is queued.
  REQUIRE(queue.push("a", [&started, opened] {
    started.set_value();
    opened.wait();
  }));
  started.get_future().wait();
  auto record = [&](std::string name) {
    return [&mutex, &order, name] {
      std::lock_guard lock(mutex);
      order.push_back(name);
    };
  };
  // Client a queues four requests before b's two: b still gets every other turn.
  for (int i = 1; i <= 4; ++i) REQUIRE(queue.push("a", record("a" + std::to_string(i))));
  REQUIRE(queue.push("b", record("b1")));
  REQUIRE(queue.push("b", record("b2")));
  CHECK(queue.queued() == 6);
  gate.set_value();
  pool.join();
  CHECK(order == std::vector<std::string>{"a1", "b1", "a2", "b2", "a3", "a4"});
  CHECK(queue.queued() == 0);
}

TEST_CASE("the preparation queue refuses jobs past its bound") {
  boost::asio::thread_pool pool(1);
  PreparationQueue queue(pool, 1);
  std::promise<void> started, gate;
  std::shared_future<void> opened = gate.get_future().share();
  REQUIRE(queue.push("a", [&started, opened] {
    started.set_value();
    opened.wait();
  }));
  started.get_future().wait();
  CHECK(queue.queued() == 0);
  CHECK(queue.push("a", [] {}));
  CHECK_FALSE(queue.push("b", [] {}));
  CHECK(queue.queued() == 1);
  gate.set_value();
  pool.join();
}

TEST_CASE("Host must be an IP address, localhost or allowed; Origin must be our own or allowed") {
  CrossSitePolicy policy;
  CHECK(policy.host_allowed("127.0.0.1:8000"));
  CHECK(policy.host_allowed("[::1]:8000"));
  CHECK(policy.host_allowed("LOCALHOST"));
  CHECK(policy.host_allowed("10.0.0.5"));
  CHECK_FALSE(policy.host_allowed("attacker.example"));
  CHECK_FALSE(policy.host_allowed("attacker.example:8000"));
  CHECK_FALSE(policy.host_allowed(""));
  CHECK_FALSE(policy.host_allowed("[::1"));
  CHECK_FALSE(policy.host_allowed("localhost:80x"));
  policy.allowed_hosts = {"api.example.com"};
  CHECK(policy.host_allowed("API.example.com:443"));
  CHECK_FALSE(policy.host_allowed("evil.api.example.com"));

  CHECK(policy.origin_allowed("", "127.0.0.1:8000"));
  CHECK(policy.origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000"));
  CHECK_FALSE(policy.origin_allowed("http://127.0.0.1:9000", "127.0.0.1:8000"));
  CHECK_FALSE(policy.origin_allowed("https://attacker.example", "127.0.0.1:8000"));
  CHECK_FALSE(policy.origin_allowed("null", "127.0.0.1:8000"));
  CHECK_FALSE(policy.cors_allowed("http://127.0.0.1:8000"));
  policy.allowed_origins = {"https://app.example.com"};
  CHECK(policy.origin_allowed("https://APP.example.com", "127.0.0.1:8000"));
  CHECK(policy.cors_allowed("https://app.example.com"));
  CHECK_FALSE(policy.cors_allowed("https://app.example.com.attacker.example"));
}
