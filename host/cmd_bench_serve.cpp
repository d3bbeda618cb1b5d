// mmrt bench --mode serve: replays a JSONL dataset against a running OpenAI-compatible server at Poisson
// arrival times, each request streamed (SSE) so TTFT is the time to the first chunk that carries text.
//
// Dataset lines: {"prompt": "What is in the image?", "image": "cat.png" | null, "output_len": 32}; image
// paths are relative to the dataset file and are sent as data: URLs. Requests use temperature 0 and
// ignore_eos, so each generates exactly output_len tokens. One thread per request in flight (a benchmark
// client, not a server); the clock starts at the first arrival.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "host/bench_report.hpp"
#include "host/runtime.hpp"

namespace mmrt::host {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct ServerUrl {
  std::string host, port, prefix;  // prefix: path before /v1, usually empty
};

ServerUrl parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw UsageError("bench: --url must start with http:// (got '" + url + "')");
  std::string rest = url.substr(scheme.size());
  ServerUrl out;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    out.prefix = rest.substr(slash);
    rest = rest.substr(0, slash);
    while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  }
  const auto colon = rest.rfind(':');
  out.host = colon == std::string::npos ? rest : rest.substr(0, colon);
  out.port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  if (out.host.empty()) throw UsageError("bench: --url has no host");
  return out;
}

struct DatasetEntry {
  std::string prompt;
  std::string image_url;  // data: URL or empty
  int64_t output_len = 0;
};

std::string mime_of(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = char(std::tolower(uint8_t(c)));
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".webp") return "image/webp";
  if (ext == ".gif") return "image/gif";
  if (ext == ".bmp") return "image/bmp";
  return "image/png";
}

std::string encode_base64(const std::vector<uint8_t>& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t b0 = bytes[i], b1 = i + 1 < bytes.size() ? bytes[i + 1] : 0,
                   b2 = i + 2 < bytes.size() ? bytes[i + 2] : 0;
    const uint32_t group = b0 << 16 | b1 << 8 | b2;
    out += alphabet[group >> 18 & 63];
    out += alphabet[group >> 12 & 63];
    out += i + 1 < bytes.size() ? alphabet[group >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? alphabet[group & 63] : '=';
  }
  return out;
}

std::vector<DatasetEntry> read_dataset(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("bench: cannot open dataset " + path.string());
  std::vector<DatasetEntry> out;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path.string() + ":" + std::to_string(line_no);
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) throw UsageError("bench: " + where + ": not a JSON object");
    const json::object& o = v.as_object();
    DatasetEntry e;
    if (!o.contains("prompt") || !o.at("prompt").is_string())
      throw UsageError("bench: " + where + ": needs \"prompt\"");
    e.prompt = std::string(o.at("prompt").as_string());
    if (!o.contains("output_len") || !o.at("output_len").is_int64() || o.at("output_len").as_int64() < 1) {
      throw UsageError("bench: " + where + ": needs a positive integer \"output_len\"");
    }
    e.output_len = o.at("output_len").as_int64();
    if (const json::value* image = o.if_contains("image"); image && image->is_string()) {
      const std::filesystem::path image_path = path.parent_path() / std::string(image->as_string());
      e.image_url =
          "data:" + mime_of(image_path) + ";base64," + encode_base64(read_file(image_path.string()));
    }
    out.push_back(std::move(e));
  }
  if (out.empty()) throw UsageError("bench: dataset " + path.string() + " has no requests");
  return out;
}

struct Outcome {
  bool ok = false;
  std::string error;
  double ttft_ms = 0, e2e_ms = 0;
  int64_t output_tokens = 0;
};

std::string http_get(const ServerUrl& url, const std::string& target, const std::string& api_key) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::resolver(ioc).resolve(url.host, url.port));
  http::request<http::empty_body> req(http::verb::get, url.prefix + target, 11);
  req.set(http::field::host, url.host);
  if (!api_key.empty()) req.set(http::field::authorization, "Bearer " + api_key);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  if (res.result_int() != 200)
    throw std::runtime_error(target + ": HTTP " + std::to_string(res.result_int()));
  return res.body();
}

// One streamed chat completion; returns when the stream ends. TTFT: first chunk with non-empty content.
Outcome run_request(const ServerUrl& url, const std::string& body, const std::string& api_key) {
  Outcome out;
  const auto t0 = Clock::now();
  try {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(tcp::resolver(ioc).resolve(url.host, url.port));
    http::request<http::string_body> req(http::verb::post, url.prefix + "/v1/chat/completions", 11);
    req.set(http::field::host, url.host);
    req.set(http::field::content_type, "application/json");
    if (!api_key.empty()) req.set(http::field::authorization, "Bearer " + api_key);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    std::string pending;  // SSE text not yet split into events
    bool done = false;
    auto on_data = [&](std::string_view data) {
      pending.append(data);
      for (size_t end; (end = pending.find("\n\n")) != std::string::npos;) {
        const std::string event = pending.substr(0, end);
        pending.erase(0, end + 2);
        if (event.rfind("data: ", 0) != 0) continue;
        const std::string payload = event.substr(6);
        if (payload == "[DONE]") {
          done = true;
          continue;
        }
        boost::system::error_code ec;
        json::value v = json::parse(payload, ec);
        if (ec || !v.is_object()) continue;
        const json::object& o = v.as_object();
        if (o.contains("error")) {
          out.error = json::serialize(o.at("error"));
          continue;
        }
        if (const json::value* choices = o.if_contains("choices"); choices && choices->is_array()) {
          for (const auto& c : choices->as_array()) {
            const json::value* content = c.as_object().if_contains("delta");
            if (content && content->is_object()) content = content->as_object().if_contains("content");
            if (content && content->is_string() && !content->as_string().empty() && out.ttft_ms == 0) {
              out.ttft_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
            }
          }
        }
        if (const json::value* usage = o.if_contains("usage"); usage && usage->is_object()) {
          out.output_tokens = usage->as_object().at("completion_tokens").to_number<int64_t>();
        }
      }
    };
    auto on_chunk = [&](uint64_t, beast::string_view data, beast::error_code&) -> size_t {
      on_data(std::string_view(data.data(), data.size()));
      return data.size();
    };
    parser.on_chunk_body(on_chunk);
    http::read_header(stream, buffer, parser);
    if (parser.get().result_int() != 200) {
      http::read(stream, buffer, parser);
      out.error = "HTTP " + std::to_string(parser.get().result_int()) + ": " + parser.get().body();
      return out;
    }
    while (!parser.is_done()) http::read_some(stream, buffer, parser);
    if (!parser.chunked()) on_data(parser.get().body());
    out.e2e_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    out.ok = done && out.error.empty();
    if (!done && out.error.empty()) out.error = "stream ended without [DONE]";
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

}  // namespace

int run_bench_serve(const Args& args) {
  if (!args.has("url")) throw UsageError("bench: --mode serve needs --url");
  if (!args.has("dataset")) throw UsageError("bench: --mode serve needs --dataset");
  const ServerUrl url = parse_url(args.get("url"));
  const std::string api_key = args.get("api-key");
  const std::vector<DatasetEntry> dataset = read_dataset(args.get("dataset"));
  const int64_t n_requests = args.get_int("num-requests", int64_t(dataset.size()));
  const std::string rate_text = args.get("request-rate", "inf");
  const double rate = rate_text == "inf" ? INFINITY : args.get_double("request-rate", INFINITY);
  if (!(rate > 0)) throw UsageError("bench: --request-rate must be > 0 or inf");

  std::string model = args.get("served-model-name");
  if (model.empty()) {
    const json::value models = json::parse(http_get(url, "/v1/models", api_key));
    model = std::string(models.at("data").as_array().at(0).at("id").as_string());
  }

  std::vector<Outcome> outcomes(static_cast<size_t>(n_requests));
  std::vector<std::thread> threads;
  std::mt19937_64 rng(uint64_t(args.get_int("seed", 0)));
  std::exponential_distribution<double> gap(std::isinf(rate) ? 1.0 : rate);
  const auto t0 = Clock::now();
  auto arrival = t0;
  for (int64_t i = 0; i < n_requests; ++i) {
    const DatasetEntry& e = dataset[size_t(i) % dataset.size()];
    json::array content;
    if (!e.image_url.empty())
      content.push_back({{"type", "image_url"}, {"image_url", {{"url", e.image_url}}}});
    content.push_back({{"type", "text"}, {"text", e.prompt}});
    const json::object body{
        {"model", model},
        {"messages", json::array{json::object{{"role", "user"}, {"content", std::move(content)}}}},
        {"max_tokens", e.output_len},
        {"temperature", 0},
        {"ignore_eos", true},
        {"stream", true},
        {"stream_options", {{"include_usage", true}}}};
    if (!std::isinf(rate)) {
      arrival += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(rng)));
      std::this_thread::sleep_until(arrival);
    }
    threads.emplace_back([&outcomes, i, &url, body = json::serialize(body), &api_key] {
      outcomes[size_t(i)] = run_request(url, body, api_key);
    });
  }
  for (auto& t : threads) t.join();
  const double wall_s = std::chrono::duration<double>(Clock::now() - t0).count();

  std::vector<double> ttft, tpot, e2e;
  int64_t ok = 0, output_tokens = 0;
  for (const auto& o : outcomes) {
    if (!o.ok) {
      std::fprintf(stderr, "bench: request failed: %s\n", o.error.c_str());
      continue;
    }
    ++ok;
    output_tokens += o.output_tokens;
    ttft.push_back(o.ttft_ms);
    e2e.push_back(o.e2e_ms);
    if (o.output_tokens > 1) tpot.push_back((o.e2e_ms - o.ttft_ms) / double(o.output_tokens - 1));
  }
  const LatencySummary s_ttft = summarize(ttft), s_tpot = summarize(tpot), s_e2e = summarize(e2e);
  if (args.flag("json")) {
    json::object out{{"mode", "serve"},
                     {"url", args.get("url")},
                     {"model", model},
                     {"num_requests", n_requests},
                     {"completed", ok},
                     {"failed", n_requests - ok},
                     {"request_rate", std::isinf(rate) ? json::value("inf") : json::value(rate)},
                     {"wall_s", wall_s},
                     {"output_tokens", output_tokens},
                     {"ttft_ms", to_json(s_ttft)},
                     {"tpot_ms", to_json(s_tpot)},
                     {"e2e_ms", to_json(s_e2e)},
                     {"requests_per_s", double(ok) / wall_s},
                     {"output_tokens_per_s", double(output_tokens) / wall_s}};
    std::cout << json::serialize(out) << std::endl;
  } else {
    std::printf("%s (%s): %lld requests at %s/s, %lld completed, %lld failed, %.2f s\n",
                args.get("url").c_str(), model.c_str(), static_cast<long long>(n_requests), rate_text.c_str(),
                static_cast<long long>(ok), static_cast<long long>(n_requests - ok), wall_s);
    std::fputs(format_line("TTFT", s_ttft, "ms").c_str(), stdout);
    std::fputs(format_line("TPOT", s_tpot, "ms").c_str(), stdout);
    std::fputs(format_line("E2E", s_e2e, "ms").c_str(), stdout);
    std::printf("throughput: %.2f requests/s, %.1f output tokens/s\n", double(ok) / wall_s,
                double(output_tokens) / wall_s);
  }
  return ok == n_requests ? 0 : 1;
}

}  // namespace mmrt::host
