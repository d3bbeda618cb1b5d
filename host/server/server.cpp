#include "host/server/server.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <deque>
#include <optional>
#include <random>

#include "host/server/api_error.hpp"
#include "host/server/metrics.hpp"
#include "host/server/openai_response.hpp"

namespace mmrt::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Compares without leaking the position of the first difference through timing.
bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= uint8_t(a[i]) ^ uint8_t(i < b.size() ? b[i] : 0);
  return diff == 0;
}

// The label a request is counted under in /metrics: a known route, never the raw target.
std::string endpoint_label(std::string_view path) {
  for (const char* known : {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"}) {
    if (path == known) return known;
  }
  return "other";
}

ApiError engine_refusal(const engine::EngineError& e) {
  using Kind = engine::EngineError::Kind;
  switch (e.kind()) {
    case Kind::invalid:
      return ApiError(400, e.what());
    case Kind::too_long:
      return ApiError(400, e.what(), "messages", "context_length_exceeded");
    case Kind::overloaded:
      return ApiError(429, e.what());
    case Kind::shutting_down:
      return ApiError(503, e.what());
  }
  return ApiError(500, e.what());
}

}  // namespace

class Session;

struct Server::Impl {
  Impl(engine::Model& m, engine::Engine& e, ServerOptions o)
      : model(m),
        engine(e),
        options(std::move(o)),
        acceptor(ioc),
        signals(ioc, SIGINT, SIGTERM),
        shutdown_timer(ioc),
        pool(size_t(std::max(1, options.n_workers))),
        token_texts(m.tokenizer()),
        model_id(options.served_model_name.empty() ? m.name() : options.served_model_name),
        started_unix(std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count()) {}

  void accept();
  void begin_shutdown();
  void poll_shutdown(Clock::time_point grace_end, bool cancelled);
  std::string next_request_id(Endpoint endpoint);

  engine::Model& model;
  engine::Engine& engine;
  ServerOptions options;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer shutdown_timer;
  asio::thread_pool pool;
  ServerMetrics metrics;
  TokenTexts token_texts;  // io thread only
  std::string model_id;
  int64_t started_unix;

  // io thread only.
  bool draining = false;
  int64_t in_flight = 0;  // generations not yet answered
  std::vector<std::weak_ptr<Session>> sessions;
  uint64_t request_counter = 0;
  std::mt19937_64 id_rng{std::random_device{}()};
};

// One accepted connection. Serves its requests one after another (keep-alive); while a request is being
// answered, a read on the socket watches for the client going away (and buffers any pipelined bytes).
// Lives as long as an async operation, a worker job or an engine callback holds it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl& server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)), timer_(server.ioc) {}

  void start() { read_request(); }
  bool idle() const { return !busy_ && !closed_; }
  bool open() const { return !closed_; }
  // Shutdown: an idle connection is closed now; a busy one after its response.
  void close_if_idle() {
    if (idle()) close();
  }

 private:
  // What one generation request carries from arrival to its last byte.
  struct Generation {
    GenerationRequest request;
    ResponseHead head;
    std::optional<LogprobsBuilder> logprobs;
    std::string text;
    Clock::time_point arrival;
    std::optional<Clock::time_point> first_token;
    size_t n_images = 0;
    bool submitted = false, done = false, timed_out = false, stream_started = false;
  };
  using GenerationPtr = std::shared_ptr<Generation>;

  void read_request();
  void on_read(beast::error_code ec);
  void handle(http::request<http::string_body> request);
  void handle_generation(std::string body, Endpoint endpoint);
  void on_prepared(const GenerationPtr& gen, engine::PreparedPrompt prepared);
  void on_event(const GenerationPtr& gen, const engine::RequestEvent& event, Clock::time_point at);
  void on_timeout(const GenerationPtr& gen);
  void fail(const GenerationPtr& gen, const ApiError& error);
  void end_generation(const GenerationPtr& gen);

  void respond(int status, const std::string& content_type, const std::string& body,
               const std::string& extra_headers = {});
  void respond_error(const ApiError& error, bool close_after = false);
  void begin_stream();
  void send_event(const std::string& data);
  void end_stream();

  void send(std::string bytes);
  void write_next();
  void on_write(beast::error_code ec);
  void finish_exchange();
  void watch_for_disconnect();
  void on_watch(beast::error_code ec, size_t n);
  void on_disconnect();
  void linger_then_close();
  void close();

  Server::Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  asio::steady_timer timer_;  // the current request's timeout

  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool response_queued_ = false;  // the whole response is in outbox_
  bool busy_ = false;             // a request is being answered
  bool watching_ = false;         // a read is outstanding while busy_ (or while lingering)
  bool lingering_ = false;        // draining unread input before closing
  bool closed_ = false;
  bool keep_alive_ = true;
  bool chunked_ = true;  // HTTP/1.1 streams use chunked transfer encoding
  std::string endpoint_;
  GenerationPtr gen_;
};

void Session::read_request() {
  if (closed_) return;
  parser_.emplace();
  parser_->body_limit(server_.options.max_body_bytes);
  parser_->header_limit(16 * 1024);
  stream_.expires_after(server_.options.read_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
}

void Session::on_read(beast::error_code ec) {
  if (closed_) return;
  if (ec == http::error::body_limit) {
    endpoint_ = endpoint_label(parser_->get().target());
    keep_alive_ = false;
    busy_ = true;
    respond_error(ApiError(413,
                           "request body is larger than the limit of " +
                               std::to_string(server_.options.max_body_bytes) + " bytes",
                           "", "request_too_large"),
                  true);
    return;
  }
  if (ec) {
    const bool partial = parser_ && parser_->got_some();
    if (partial && ec != beast::error::timeout && ec != http::error::partial_message &&
        ec != asio::error::connection_reset) {
      endpoint_ = "other";
      keep_alive_ = false;
      busy_ = true;
      respond_error(ApiError(400, "malformed HTTP request: " + ec.message()), true);
      return;
    }
    close();
    return;
  }
  handle(parser_->release());
}

void Session::handle(http::request<http::string_body> request) {
  busy_ = true;
  keep_alive_ = request.keep_alive() && !server_.draining;
  chunked_ = request.version() >= 11;
  if (!chunked_) keep_alive_ = false;
  // The request timeout bounds everything from here; the stream's own expiry is a backstop for writes to a
  // client that stopped reading.
  stream_.expires_after(server_.options.request_timeout + std::chrono::seconds(30));
  watch_for_disconnect();

  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  endpoint_ = endpoint_label(path);
  const bool is_get = request.method() == http::verb::get, is_post = request.method() == http::verb::post;

  if (path == "/health" && is_get) {
    if (server_.draining) return respond_error(ApiError(503, "the server is shutting down"));
    return respond(200, "application/json", R"({"status":"ok"})");
  }
  if (!server_.options.api_key.empty() && path != "/health" && path != "/metrics") {
    const std::string_view auth = request[http::field::authorization];
    const std::string expected = "Bearer " + server_.options.api_key;
    if (!constant_time_equal(auth, expected)) {
      return respond_error(ApiError(401, "missing or wrong API key (send Authorization: Bearer <key>)", "",
                                    "invalid_api_key"));
    }
  }
  if (path == "/metrics" && is_get) {
    return respond(200, "text/plain; version=0.0.4; charset=utf-8",
                   server_.metrics.render(server_.engine.stats()));
  }
  if (path == "/v1/models" && is_get) {
    json::object model{{"id", server_.model_id},
                       {"object", "model"},
                       {"created", server_.started_unix},
                       {"owned_by", "mmrt"},
                       {"root", server_.model.name()}};
    return respond(
        200, "application/json",
        json::serialize(json::object{{"object", "list"}, {"data", json::array{std::move(model)}}}));
  }
  if (path == "/v1/chat/completions" && is_post)
    return handle_generation(std::move(request.body()), Endpoint::chat_completions);
  if (path == "/v1/completions" && is_post)
    return handle_generation(std::move(request.body()), Endpoint::completions);
  if (endpoint_ != "other") {
    return respond_error(ApiError(
        405, "method " + std::string(request.method_string()) + " is not allowed on " + std::string(path)));
  }
  respond_error(
      ApiError(404, "no route for " + std::string(request.method_string()) + " " + std::string(path)));
}

void Session::handle_generation(std::string body, Endpoint endpoint) {
  if (server_.draining) return respond_error(ApiError(503, "the server is shutting down"));
  auto gen = std::make_shared<Generation>();
  gen->arrival = Clock::now();
  gen->head.endpoint = endpoint;
  gen->head.id = server_.next_request_id(endpoint);
  gen->head.created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  gen->head.model = server_.model_id;
  gen_ = gen;
  ++server_.in_flight;
  server_.metrics.set_in_flight(server_.in_flight);

  timer_.expires_after(server_.options.request_timeout);
  timer_.async_wait([self = shared_from_this(), gen](beast::error_code ec) {
    if (!ec) self->on_timeout(gen);
  });

  // Parsing, image decoding and prompt preparation run on the worker pool; results come back to the io
  // thread. Only gen->request is written there, and nothing on the io thread reads it before on_prepared.
  asio::post(
      server_.pool, [self = shared_from_this(), gen, body = std::move(body), endpoint, &server = server_] {
        try {
          gen->request = endpoint == Endpoint::chat_completions
                             ? parse_chat_request(body, server.options.request_limits)
                             : parse_completion_request(body, server.options.request_limits);
          if (gen->request.model != server.model_id) {
            throw ApiError(404,
                           "the model '" + gen->request.model + "' does not exist (this server serves '" +
                               server.model_id + "')",
                           "model", "model_not_found");
          }
          auto prepared = std::make_shared<engine::PreparedPrompt>(
              prepare_generation(server.model, gen->request, server.options.preparation));
          asio::post(server.ioc, [self, gen, prepared] { self->on_prepared(gen, std::move(*prepared)); });
        } catch (const ApiError& e) {
          // Exceptions share their message buffer between copies; hand the io thread deep copies of
          // the fields instead of the exception object.
          asio::post(server.ioc,
                     [self, gen, status = e.status(), message = std::string(e.what()), param = e.param(),
                      code = e.code()] { self->fail(gen, ApiError(status, message, param, code)); });
        } catch (const std::exception& e) {
          spdlog::error("request {}: {}", gen->head.id, e.what());
          std::string message = std::string("internal error while preparing the request: ") + e.what();
          asio::post(server.ioc,
                     [self, gen, message = std::move(message)] { self->fail(gen, ApiError(500, message)); });
        }
      });
}

void Session::on_prepared(const GenerationPtr& gen, engine::PreparedPrompt prepared) {
  if (gen->done) return;
  GenerationRequest& request = gen->request;
  engine::SamplingParams params = request.params;
  if (!request.max_tokens_given) {
    // OpenAI's default: as many tokens as the context leaves.
    const int64_t context = server_.model.kv_spec().max_position;
    const int64_t left = context > 0 ? context - int64_t(prepared.prompt.ids.size()) : 256;
    params.max_tokens = int32_t(std::clamp<int64_t>(left, 1, 4096));
  }
  if (request.logprobs) gen->logprobs.emplace(request.endpoint, server_.token_texts);
  gen->n_images = prepared.items.size();

  engine::RequestInput input{gen->head.id, std::move(prepared.prompt), std::move(prepared.items), params};
  // Runs on the engine thread: stamp the time, copy the event, hand it to the io thread.
  auto on_event = [self = shared_from_this(), gen, &ioc = server_.ioc](const engine::RequestEvent& event) {
    asio::post(ioc, [self, gen, event, at = Clock::now()] { self->on_event(gen, event, at); });
  };
  try {
    server_.engine.submit(std::move(input), std::move(on_event));
  } catch (const engine::EngineError& e) {
    return fail(gen, engine_refusal(e));
  }
  gen->submitted = true;
  if (request.stream) {
    begin_stream();
    gen->stream_started = true;
    if (request.endpoint == Endpoint::chat_completions) {
      send_event(json::serialize(stream_chunk(gen->head, "", true, nullptr, "", request.include_usage)));
    }
  }
}

void Session::on_event(const GenerationPtr& gen, const engine::RequestEvent& event, Clock::time_point at) {
  if (gen->done) return;  // already answered (timeout, disconnect)
  const GenerationRequest& request = gen->request;
  if (!event.samples.empty() && !gen->first_token) gen->first_token = at;
  if (gen->logprobs) {
    for (const auto& s : event.samples) gen->logprobs->add(s);
  }
  if (request.stream) {
    const bool has_logprobs = gen->logprobs && !gen->logprobs->empty();
    if (!event.text_delta.empty() || has_logprobs) {
      json::value logprobs = has_logprobs ? json::value(gen->logprobs->take()) : json::value(nullptr);
      send_event(json::serialize(
          stream_chunk(gen->head, event.text_delta, false, std::move(logprobs), "", request.include_usage)));
    }
  } else {
    gen->text += event.text_delta;
  }
  if (event.finish == engine::FinishReason::none) return;

  switch (event.finish) {
    case engine::FinishReason::stop:
    case engine::FinishReason::length: {
      const std::string reason = engine::finish_reason_name(event.finish);
      json::object usage = usage_json(event.prompt_tokens, event.completion_tokens, event.cached_tokens);
      const double ttft = gen->first_token ? seconds_between(gen->arrival, *gen->first_token) : 0.0;
      const double e2e = seconds_between(gen->arrival, at);
      const double tpot = event.completion_tokens > 1 && gen->first_token
                              ? seconds_between(*gen->first_token, at) / double(event.completion_tokens - 1)
                              : 0.0;
      server_.metrics.observe_generation(ttft, tpot, e2e, event.prompt_tokens, event.completion_tokens,
                                         int64_t(gen->n_images));
      if (request.stream) {
        send_event(
            json::serialize(stream_chunk(gen->head, "", false, nullptr, reason, request.include_usage)));
        if (request.include_usage) send_event(json::serialize(usage_chunk(gen->head, std::move(usage))));
        end_stream();
      } else {
        json::value logprobs = gen->logprobs ? json::value(gen->logprobs->take()) : json::value(nullptr);
        respond(200, "application/json",
                json::serialize(
                    completion_body(gen->head, gen->text, reason, std::move(logprobs), std::move(usage))));
      }
      end_generation(gen);
      return;
    }
    case engine::FinishReason::abort:
      if (gen->timed_out) {
        return fail(gen, ApiError(504, "the request did not finish within the server's request timeout", "",
                                  "timeout"));
      }
      return fail(gen, ApiError(503, "the request was cancelled because the server is shutting down"));
    case engine::FinishReason::error:
      spdlog::error("request {}: generation failed: {}", gen->head.id, event.error);
      return fail(gen, ApiError(500, "generation failed: " + event.error));
    case engine::FinishReason::none:
      return;
  }
}

void Session::on_timeout(const GenerationPtr& gen) {
  if (gen->done) return;
  gen->timed_out = true;
  if (gen->submitted) {
    server_.engine.cancel(gen->head.id);  // the abort event answers
    return;
  }
  fail(gen, ApiError(504, "the request did not finish within the server's request timeout", "", "timeout"));
}

void Session::fail(const GenerationPtr& gen, const ApiError& error) {
  if (gen->done) return;
  if (gen->stream_started) {
    // The status line is long gone: the error travels as an event, then the stream ends as usual.
    send_event(error.body());
    end_stream();
  } else {
    respond_error(error);
  }
  end_generation(gen);
}

void Session::end_generation(const GenerationPtr& gen) {
  gen->done = true;
  timer_.cancel();
  --server_.in_flight;
  server_.metrics.set_in_flight(server_.in_flight);
}

void Session::respond(int status, const std::string& content_type, const std::string& body,
                      const std::string& extra_headers) {
  server_.metrics.count_request(endpoint_, status);
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                     std::string(http::obsolete_reason(http::int_to_status(unsigned(status)))) + "\r\n";
  head += "Server: mmrt\r\nContent-Type: " + content_type +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers;
  head += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  send(head + body);
  response_queued_ = true;
  if (!writing_) finish_exchange();
}

void Session::respond_error(const ApiError& error, bool close_after) {
  if (close_after) keep_alive_ = false;
  respond(error.status(), "application/json", error.body(),
          error.status() == 401 ? "WWW-Authenticate: Bearer\r\n" : "");
}

void Session::begin_stream() {
  server_.metrics.count_request(endpoint_, 200);
  std::string head =
      "HTTP/1.1 200 OK\r\nServer: mmrt\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
  if (chunked_) head += "Transfer-Encoding: chunked\r\n";
  head += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  send(std::move(head));
}

void Session::send_event(const std::string& data) {
  std::string event = "data: " + data + "\n\n";
  if (!chunked_) return send(std::move(event));
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", event.size());
  send(size + event + "\r\n");
}

void Session::end_stream() {
  send_event("[DONE]");
  if (chunked_) send("0\r\n\r\n");
  response_queued_ = true;
  if (!writing_) finish_exchange();
}

void Session::send(std::string bytes) {
  if (closed_) return;
  outbox_.push_back(std::move(bytes));
  if (!writing_) write_next();
}

void Session::write_next() {
  writing_ = true;
  asio::async_write(stream_, asio::buffer(outbox_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); });
}

void Session::on_write(beast::error_code ec) {
  writing_ = false;
  if (closed_) return;
  if (ec) return on_disconnect();
  outbox_.pop_front();
  if (!outbox_.empty()) return write_next();
  if (response_queued_) finish_exchange();
}

// The response is written: read the next request, or close.
void Session::finish_exchange() {
  if (closed_ || writing_ || !outbox_.empty()) return;
  response_queued_ = false;
  busy_ = false;
  gen_.reset();
  if (!keep_alive_ || server_.draining) return linger_then_close();
  if (watching_) {
    // The watch read completes with operation_aborted (or with pipelined bytes) and then reads the request.
    stream_.socket().cancel();
    return;
  }
  read_request();
}

void Session::watch_for_disconnect() {
  if (watching_ || closed_) return;
  watching_ = true;
  stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t n) {
    self->on_watch(ec, n);
  });
}

void Session::on_watch(beast::error_code ec, size_t n) {
  watching_ = false;
  if (closed_) return;
  if (lingering_) {
    buffer_.consume(buffer_.size());
    if (ec) return close();
    return watch_for_disconnect();
  }
  if (!ec) buffer_.commit(n);
  if (ec && ec != asio::error::operation_aborted) return on_disconnect();
  if (busy_) {
    // Pipelined bytes wait in buffer_ for the next read; past a bound the client gets no more attention.
    if (buffer_.size() < 64 * 1024) watch_for_disconnect();
    return;
  }
  read_request();
}

void Session::on_disconnect() {
  if (gen_ && !gen_->done) {
    if (gen_->submitted) server_.engine.cancel(gen_->head.id);
    spdlog::info("request {}: client went away; cancelled", gen_->head.id);
    end_generation(gen_);
  }
  close();
}

// Closing with unread request bytes in the kernel makes it send a reset, which can destroy the error
// response before the client reads it; so shut down sending, then read and drop input until EOF.
void Session::linger_then_close() {
  if (closed_) return;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return close();
  lingering_ = true;
  stream_.expires_after(std::chrono::seconds(5));
  watch_for_disconnect();
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
  outbox_.clear();
}

void Server::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted) spdlog::warn("accept: {}", ec.message());
      if (!acceptor.is_open()) return;
      return accept();
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto session = std::make_shared<Session>(*this, std::move(socket));
    std::erase_if(sessions, [](const std::weak_ptr<Session>& s) { return s.expired(); });
    sessions.push_back(session);
    session->start();
    accept();
  });
}

std::string Server::Impl::next_request_id(Endpoint endpoint) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%llx%012llx",
                endpoint == Endpoint::chat_completions ? "chatcmpl" : "cmpl",
                static_cast<unsigned long long>(++request_counter),
                static_cast<unsigned long long>(id_rng() & 0xffffffffffffull));
  return buf;
}

void Server::Impl::begin_shutdown() {
  if (draining) return;
  draining = true;
  std::fprintf(stderr, "shutting down: %lld request(s) in flight, grace %lld ms\n",
               static_cast<long long>(in_flight), static_cast<long long>(options.shutdown_grace.count()));
  beast::error_code ec;
  acceptor.close(ec);
  for (auto& weak : sessions) {
    if (auto s = weak.lock()) s->close_if_idle();
  }
  poll_shutdown(Clock::now() + options.shutdown_grace, false);
}

// Every 20 ms: done when nothing is in flight and every connection has closed; past the grace period,
// abort what is left (the engine answers each with an abort event); past that, stop regardless.
void Server::Impl::poll_shutdown(Clock::time_point grace_end, bool cancelled) {
  const bool any_open = std::any_of(sessions.begin(), sessions.end(), [](const std::weak_ptr<Session>& w) {
    auto s = w.lock();
    return s && s->open();
  });
  if (in_flight == 0 && !any_open) return ioc.stop();
  const auto now = Clock::now();
  if (now > grace_end + std::chrono::seconds(5)) return ioc.stop();
  if (now > grace_end && !cancelled) {
    std::fprintf(stderr, "grace period over: cancelling %lld request(s)\n",
                 static_cast<long long>(in_flight));
    asio::post(pool, [this] { engine.stop(false); });
    cancelled = true;
  }
  shutdown_timer.expires_after(std::chrono::milliseconds(20));
  shutdown_timer.async_wait([this, grace_end, cancelled](beast::error_code ec) {
    if (!ec) poll_shutdown(grace_end, cancelled);
  });
}

Server::Server(engine::Model& model, engine::Engine& engine, ServerOptions options)
    : impl_(std::make_unique<Impl>(model, engine, std::move(options))) {}

Server::~Server() = default;

uint16_t Server::listen() {
  Impl& s = *impl_;
  beast::error_code ec;
  const auto address = asio::ip::make_address(s.options.host, ec);
  if (ec) throw std::runtime_error("--host " + s.options.host + ": not an IP address (" + ec.message() + ")");
  const tcp::endpoint endpoint(address, s.options.port);
  s.acceptor.open(endpoint.protocol());
  s.acceptor.set_option(asio::socket_base::reuse_address(true));
  s.acceptor.bind(endpoint, ec);
  if (ec) {
    throw std::runtime_error("cannot bind " + s.options.host + ":" + std::to_string(s.options.port) + ": " +
                             ec.message());
  }
  s.acceptor.listen(asio::socket_base::max_listen_connections);
  return s.acceptor.local_endpoint().port();
}

void Server::run() {
  Impl& s = *impl_;
  s.signals.async_wait([&s](beast::error_code ec, int) {
    if (!ec) s.begin_shutdown();
  });
  s.accept();
  s.ioc.run();
  // Workers may still be preparing; then no engine callback can be left waiting on a live session.
  s.pool.join();
  s.engine.stop(false);
}

}  // namespace mmrt::server
