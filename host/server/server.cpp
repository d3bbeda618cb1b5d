#include "host/server/server.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <optional>
#include <random>
#include <type_traits>

#include "core/model/model_files.hpp"
#include "host/server/api_error.hpp"
#include "host/server/build_info.hpp"
#include "host/server/generation_defaults.hpp"
#include "host/server/memory_budget.hpp"
#include "host/server/metrics.hpp"
#include "host/server/openai_response.hpp"
#include "host/server/preparation_queue.hpp"
#include "host/server/tokenize_endpoints.hpp"

namespace mmrt::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
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

// Bodies up to this size are admitted without asking the memory budget, so stalled large uploads cannot
// lock out small requests; their total is bounded by --max-connections.
constexpr uint64_t kAlwaysAdmittedBody = 64 * 1024;
// Bodies larger than this are followed by malloc_trim, so their memory goes back to the system.
constexpr size_t kTrimAfterBody = 1u << 20;

// The label a request is counted under in /metrics: a known route, never the raw target.
std::string endpoint_label(std::string_view path) {
  for (const char* known : {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics",
                            "/version", "/tokenize", "/detokenize"}) {
    if (path == known) return known;
  }
  return "other";
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// "application/json; charset=utf-8" -> true.
bool is_json_media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return iequal(type, "application/json");
}

// A client-supplied value quoted in a log line, cut short and without control characters.
std::string log_excerpt(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  return s.size() > 200 ? out + "..." : out;
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

// What the server's bookkeeping needs from a connection, whatever its transport. io thread only.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual bool open() const = 0;
  // Waiting for a request of which not one byte has arrived: closing it loses nothing.
  virtual bool awaiting_first_byte() const = 0;
  virtual Clock::time_point idle_since() const = 0;
  // Shutdown: an idle connection is closed now; a busy one after its response.
  virtual void close_if_idle() = 0;
  // Grace period over: a request still being prepared gets 503 now, and its worker stops at the next stage.
  virtual void cancel_preparation() = 0;
  virtual void close() = 0;
};

// A request body and its share of the memory budget, released together once the body is parsed.
struct RequestBody {
  std::string text;
  MemoryBudget::Reservation reservation;
};

struct Server::Impl {
  Impl(engine::Model& m, engine::Engine& e, ServerOptions o)
      : model(m),
        engine(e),
        options(std::move(o)),
        acceptor(ioc),
        accept_timer(ioc),
        signals(ioc, SIGINT, SIGTERM),
        shutdown_timer(ioc),
        pool(size_t(std::max(1, options.n_workers))),
        preparations(pool, options.max_queued_preparations),
        budget(options.max_buffered_bytes),
        token_texts(m.tokenizer()),
        model_id(options.served_model_name.empty() ? m.name() : options.served_model_name),
        generation_defaults(GenerationDefaults::from_generation_config(m.files().generation_config)),
        metrics(model_id),
        started_unix(std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count()) {
    for (const auto& dir : {model.files().dir, std::filesystem::absolute(model.files().dir)}) {
      std::string text = dir.lexically_normal().string();
      while (text.size() > 1 && text.back() == '/') text.pop_back();
      if (!text.empty() && text != "/" && text != ".") model_dirs.push_back(text);
    }
    for (const auto& setting : generation_defaults.not_applied) {
      spdlog::warn("generation_config.json: {} is out of range and not applied", setting);
    }
  }

  void accept();
  bool close_idle_session();
  void on_connection_closed();
  void on_signal();
  void begin_shutdown();
  void poll_shutdown();
  std::string next_request_id(Endpoint endpoint);
  ServerGauges gauges() const;
  int64_t context_length() const;
  // The message with the model folder's path replaced by the model id: clients never see server paths.
  std::string redact(std::string message) const;

  engine::Model& model;
  engine::Engine& engine;
  ServerOptions options;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::steady_timer accept_timer;  // backoff after running out of file descriptors
  asio::signal_set signals;
  asio::steady_timer shutdown_timer;
  asio::thread_pool pool;
  PreparationQueue preparations;
  MemoryBudget budget;
  TokenTexts token_texts;  // io thread only
  std::string model_id;
  GenerationDefaults generation_defaults;
  ServerMetrics metrics;
  std::vector<std::string> model_dirs;  // as given and absolute
  int64_t started_unix;

  // io thread only.
  bool draining = false;
  bool cancelled = false;  // the grace period is over
  Clock::time_point grace_end;
  bool accepting = false;          // an async_accept is outstanding
  bool accept_paused = false;      // at max_connections with no idle connection to close
  bool fd_warning_logged = false;  // one warning; later shortages only count in the metric
  int64_t open_connections = 0;
  int64_t in_flight = 0;  // generations not yet answered
  std::vector<std::weak_ptr<Connection>> sessions;
  std::optional<asio::ssl::context> tls;  // with --ssl-certfile
  uint64_t request_counter = 0;
  std::mt19937_64 id_rng{std::random_device{}()};
};

// One accepted connection over Stream (plain TCP, or TLS over TCP). Serves its requests one after another
// (keep-alive); while a request is being answered, a read on the socket watches for the client going away
// (and buffers any pipelined bytes). Lives as long as an async operation, a worker job or an engine
// callback holds it.
template <class Stream>
class Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Server::Impl& server, Stream stream)
      : server_(server), stream_(std::move(stream)), timer_(server.ioc) {
    beast::error_code ec;
    client_ = socket().remote_endpoint(ec).address().to_string();
  }

  // Every path that ends a connection goes through close(); this keeps the count right if one does not.
  ~Session() override {
    if (!closed_) --server_.open_connections;
  }

  void start();
  bool idle() const { return !busy_ && !closed_; }
  bool open() const override { return !closed_; }
  bool awaiting_first_byte() const override {
    return awaiting_ && !closed_ && buffer_.size() == 0 && (!parser_ || !parser_->got_some());
  }
  Clock::time_point idle_since() const override { return idle_since_; }
  void close_if_idle() override {
    if (idle()) close();
  }
  void cancel_preparation() override;
  void close() override;

 private:
  // What one generation request carries from arrival to its last byte. The worker writes `request` and
  // reads `cancelled`; everything else is the io thread's.
  // One of the request's n choices: its own engine request.
  struct Choice {
    std::string engine_id;
    std::optional<LogprobsBuilder> logprobs;
    std::string text;           // non-streamed
    std::string finish_reason;  // empty while it runs
    int64_t completion_tokens = 0;
  };
  struct Generation {
    GenerationRequest request;
    ResponseHead head;
    std::vector<Choice> choices;
    size_t n_finished = 0;
    int64_t prompt_tokens = 0, cached_tokens = 0;
    Clock::time_point arrival;
    std::optional<Clock::time_point> first_token;
    size_t n_images = 0;
    std::atomic<bool> cancelled{false};  // the worker stops preparing
    bool submitted = false, done = false, timed_out = false, stream_started = false;
  };
  using GenerationPtr = std::shared_ptr<Generation>;

  struct Outgoing {
    std::string bytes;
    MemoryBudget::Reservation reservation;
  };

  void read_request();
  void on_header(beast::error_code ec);
  std::optional<ApiError> refuse_header(const http::request_parser<http::string_body>& parser);
  void on_read(beast::error_code ec);
  void on_read_error(beast::error_code ec);
  void handle(http::request<http::string_body> request);
  void handle_preflight(const http::request<http::string_body>& request);
  void handle_generation(std::string body, Endpoint endpoint);
  void handle_tokenizer(std::string body, bool tokenize);
  void prepare(const GenerationPtr& gen, RequestBody& body, Endpoint endpoint);  // on a worker
  void on_prepared(const GenerationPtr& gen, engine::PreparedPrompt prepared);
  void on_event(const GenerationPtr& gen, size_t index, const engine::RequestEvent& event,
                Clock::time_point at);
  void on_finished(const GenerationPtr& gen, Clock::time_point at);
  void cancel_in_engine(const GenerationPtr& gen);
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
  void log_access();
  void watch_for_disconnect();
  void on_watch(beast::error_code ec, size_t n);
  void on_disconnect();
  void linger_then_close();
  tcp::socket& socket() { return beast::get_lowest_layer(stream_).socket(); }
  std::shared_ptr<Session> shared() { return this->shared_from_this(); }

  Server::Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  asio::steady_timer timer_;  // the current request's timeout
  std::string client_;        // the peer's address: the fairness key of the preparation queue
  MemoryBudget::Reservation body_reservation_;

  std::deque<Outgoing> outbox_;
  bool writing_ = false;
  bool response_queued_ = false;  // the whole response is in outbox_
  bool awaiting_ = false;         // reading a request's header
  bool busy_ = false;             // a request is being answered
  bool watching_ = false;         // a read is outstanding while busy_ (or while lingering)
  bool lingering_ = false;        // draining unread input before closing
  bool closed_ = false;
  bool keep_alive_ = true;
  bool chunked_ = true;  // HTTP/1.1 streams use chunked transfer encoding
  Clock::time_point idle_since_ = Clock::now();
  std::string endpoint_;
  std::string cors_headers_;  // Access-Control-Allow-Origin for an allowed cross-origin request
  GenerationPtr gen_;

  // The access log line of the current exchange.
  struct Exchange {
    std::string method, target;
    int status = 0;
    int64_t prompt_tokens = -1, completion_tokens = -1;
    Clock::time_point started;
    bool active = false;
  } exchange_;
};

template <class Stream>
void Session<Stream>::start() {
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    // The handshake counts as waiting for the first byte: a client that never completes it is idle.
    awaiting_ = true;
    idle_since_ = Clock::now();
    beast::get_lowest_layer(stream_).expires_after(server_.options.read_timeout);
    stream_.async_handshake(asio::ssl::stream_base::server, [self = shared()](beast::error_code ec) {
      self->awaiting_ = false;
      if (self->closed_) return;
      if (ec) {
        spdlog::debug("TLS handshake with {}: {}", self->client_, ec.message());
        return self->close();
      }
      self->read_request();
    });
  } else {
    read_request();
  }
}

template <class Stream>
void Session<Stream>::read_request() {
  if (closed_) return;
  parser_.emplace();
  parser_->body_limit(server_.options.max_body_bytes);
  parser_->header_limit(16 * 1024);
  awaiting_ = true;
  idle_since_ = Clock::now();
  beast::get_lowest_layer(stream_).expires_after(server_.options.read_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared()](beast::error_code ec, size_t) { self->on_header(ec); });
}

template <class Stream>
void Session<Stream>::on_header(beast::error_code ec) {
  awaiting_ = false;
  if (closed_) return;
  if (ec) return on_read_error(ec);
  const auto& header = parser_->get();
  busy_ = true;
  cors_headers_.clear();
  exchange_ = Exchange{
      std::string(header.method_string()), log_excerpt(header.target()), 0, -1, -1, Clock::now(), true};
  const std::string_view target = header.target();
  endpoint_ = endpoint_label(target.substr(0, target.find('?')));
  keep_alive_ = header.keep_alive() && !server_.draining;
  chunked_ = header.version() >= 11;
  if (!chunked_) keep_alive_ = false;
  if (std::optional<ApiError> refusal = refuse_header(*parser_)) {
    // Unread body bytes are drained (and dropped) before the connection closes.
    return respond_error(*refusal, !parser_->is_done());
  }
  if (iequal(header[http::field::expect], "100-continue")) send("HTTP/1.1 100 Continue\r\n\r\n");
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared()](beast::error_code ec, size_t) { self->on_read(ec); });
}

// Everything decided from the header alone, so that a refused body is never buffered.
template <class Stream>
std::optional<ApiError> Session<Stream>::refuse_header(
    const http::request_parser<http::string_body>& parser) {
  const auto& header = parser.get();
  const ServerOptions& options = server_.options;
  const std::string_view target = header.target();
  const std::string_view path = target.substr(0, target.find('?'));

  // RFC 9112 6.3: a request whose last transfer coding is not chunked has no reliable length.
  if (header.count(http::field::transfer_encoding) && !parser.chunked()) {
    return ApiError(400, "Transfer-Encoding must be chunked", "", "bad_transfer_encoding");
  }
  const std::string_view host = header[http::field::host];
  if (header.version() >= 11 && !header.count(http::field::host)) {
    return ApiError(400, "HTTP/1.1 requests need a Host header", "", "missing_host");
  }
  if (header.count(http::field::host) && !options.cross_site.host_allowed(host)) {
    return ApiError(421,
                    "Host '" + log_excerpt(host) +
                        "' is not served here (start the server with --allowed-hosts to accept it)",
                    "", "host_not_allowed");
  }
  const std::string_view origin = header[http::field::origin];
  if (!options.cross_site.origin_allowed(origin, host)) {
    return ApiError(403,
                    "cross-origin requests from '" + log_excerpt(origin) +
                        "' are not allowed (start the server with --allowed-origins to allow them)",
                    "", "origin_not_allowed");
  }
  if (options.cross_site.cors_allowed(origin)) {
    cors_headers_ = "Access-Control-Allow-Origin: " + std::string(origin) + "\r\nVary: Origin\r\n";
  }
  if (header.method() == http::verb::options) return std::nullopt;  // the preflight is answered later
  if (!options.api_keys.empty() && path != "/health" && path != "/metrics" && path != "/version") {
    const std::string_view auth = header[http::field::authorization];
    bool match = false;
    for (const auto& key : options.api_keys) match |= constant_time_equal(auth, "Bearer " + key);
    if (!match) {
      return ApiError(401, "missing or wrong API key (send Authorization: Bearer <key>)", "",
                      "invalid_api_key");
    }
  }
  if (header.method() == http::verb::post && !is_json_media_type(header[http::field::content_type])) {
    return ApiError(415, "request bodies must be JSON (Content-Type: application/json)", "",
                    "unsupported_media_type");
  }
  const boost::optional<uint64_t> length = parser.content_length();
  const uint64_t body_bytes = length ? *length : parser.chunked() ? options.max_body_bytes : 0;
  if (body_bytes > options.max_body_bytes) {
    return ApiError(
        413, "request body is larger than the limit of " + std::to_string(options.max_body_bytes) + " bytes",
        "", "request_too_large");
  }
  if (body_bytes <= kAlwaysAdmittedBody) {
    body_reservation_ = server_.budget.charge(body_bytes);
  } else {
    body_reservation_ = server_.budget.try_reserve(body_bytes);
    if (!body_reservation_.bytes()) {
      server_.metrics.count_refusal("memory");
      return ApiError(503, "the server is holding too much request data; retry shortly", "", "server_busy");
    }
  }
  return std::nullopt;
}

template <class Stream>
void Session<Stream>::on_read(beast::error_code ec) {
  if (closed_) return;
  if (ec) return on_read_error(ec);
  handle(parser_->release());
}

template <class Stream>
void Session<Stream>::on_read_error(beast::error_code ec) {
  body_reservation_.release();
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
  const bool partial = parser_ && parser_->got_some();
  if (partial && ec != beast::error::timeout && ec != http::error::partial_message &&
      ec != asio::error::connection_reset && ec != asio::error::operation_aborted) {
    endpoint_ = "other";
    keep_alive_ = false;
    busy_ = true;
    respond_error(ApiError(400, "malformed HTTP request: " + ec.message()), true);
    return;
  }
  close();
}

template <class Stream>
void Session<Stream>::handle(http::request<http::string_body> request) {
  // The request timeout bounds everything from here; the stream's own expiry is a backstop for writes to a
  // client that stopped reading.
  beast::get_lowest_layer(stream_).expires_after(server_.options.request_timeout + std::chrono::seconds(30));
  watch_for_disconnect();

  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const bool is_get = request.method() == http::verb::get, is_post = request.method() == http::verb::post;

  if (request.method() == http::verb::options) return handle_preflight(request);
  if (path == "/health" && is_get) {
    if (server_.draining) return respond_error(ApiError(503, "the server is shutting down"));
    return respond(200, "application/json", R"({"status":"ok"})");
  }
  if (path == "/metrics" && is_get) {
    return respond(200, "text/plain; version=0.0.4; charset=utf-8",
                   server_.metrics.render(server_.engine.stats(), server_.gauges()));
  }
  if (path == "/version" && is_get) return respond(200, "application/json", json::serialize(build_info()));
  if (path == "/v1/models" && is_get) {
    json::object model{{"id", server_.model_id},          {"object", "model"},
                       {"created", server_.started_unix}, {"owned_by", "mmrt"},
                       {"root", server_.model.name()},    {"max_model_len", server_.context_length()}};
    return respond(
        200, "application/json",
        json::serialize(json::object{{"object", "list"}, {"data", json::array{std::move(model)}}}));
  }
  if (path == "/v1/chat/completions" && is_post)
    return handle_generation(std::move(request.body()), Endpoint::chat_completions);
  if (path == "/v1/completions" && is_post)
    return handle_generation(std::move(request.body()), Endpoint::completions);
  if (path == "/tokenize" && is_post) return handle_tokenizer(std::move(request.body()), true);
  if (path == "/detokenize" && is_post) return handle_tokenizer(std::move(request.body()), false);
  body_reservation_.release();
  if (endpoint_ != "other") {
    return respond_error(ApiError(
        405, "method " + std::string(request.method_string()) + " is not allowed on " + log_excerpt(path)));
  }
  respond_error(
      ApiError(404, "no route for " + std::string(request.method_string()) + " " + log_excerpt(path)));
}

// CORS preflight. Without --allowed-origins (or for an origin not on it) the answer carries no
// Access-Control-Allow-Origin, so the browser does not send the request.
template <class Stream>
void Session<Stream>::handle_preflight(const http::request<http::string_body>& request) {
  body_reservation_.release();
  if (endpoint_ == "other") {
    return respond_error(ApiError(404, "no route for OPTIONS " + log_excerpt(request.target())));
  }
  if (cors_headers_.empty()) {
    return respond_error(ApiError(403,
                                  "cross-origin requests are not allowed (start the server with "
                                  "--allowed-origins to allow them)",
                                  "", "origin_not_allowed"));
  }
  respond(204, "text/plain", "",
          "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
          "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
          "Access-Control-Max-Age: 600\r\n");
}

template <class Stream>
void Session<Stream>::handle_tokenizer(std::string body, bool tokenize) {
  auto input = std::make_shared<RequestBody>(RequestBody{std::move(body), std::move(body_reservation_)});
  const bool queued =
      server_.preparations.push(client_, [self = shared(), input, tokenize, &server = server_] {
        int status = 200;
        std::string answer, param, code;
        try {
          answer = tokenize ? tokenize_response(server.model, server.model_id, input->text,
                                                server.context_length(), server.options.request_limits)
                            : detokenize_response(server.model, server.model_id, input->text);
        } catch (const ApiError& e) {
          status = e.status();
          answer = e.what();
          param = e.param();
          code = e.code();
        }
        std::string().swap(input->text);
        input->reservation.release();
        asio::post(server.ioc, [self, status, answer = std::move(answer), param = std::move(param),
                                code = std::move(code)] {
          if (self->closed_) return;
          if (status == 200) return self->respond(200, "application/json", answer);
          self->respond_error(ApiError(status, answer, param, code));
        });
      });
  if (!queued) {
    server_.metrics.count_refusal("preparation_queue");
    respond_error(ApiError(429, "too many requests are waiting to be prepared; retry shortly"));
  }
}

template <class Stream>
void Session<Stream>::handle_generation(std::string body, Endpoint endpoint) {
  if (server_.draining) {
    body_reservation_.release();
    return respond_error(ApiError(503, "the server is shutting down"));
  }
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
  timer_.async_wait([self = shared(), gen](beast::error_code ec) {
    if (!ec) self->on_timeout(gen);
  });

  // Parsing, image decoding and prompt preparation run on the worker pool; results come back to the io
  // thread. Only gen->request is written there, and nothing on the io thread reads it before on_prepared.
  auto input = std::make_shared<RequestBody>(RequestBody{std::move(body), std::move(body_reservation_)});
  const bool queued = server_.preparations.push(
      client_, [self = shared(), gen, input, endpoint] { self->prepare(gen, *input, endpoint); });
  if (!queued) {
    server_.metrics.count_refusal("preparation_queue");
    fail(gen, ApiError(429, "too many requests are waiting to be prepared; retry shortly"));
  }
}

// Runs on a worker: touches only gen->request, gen->cancelled and the server's thread-safe parts.
template <class Stream>
void Session<Stream>::prepare(const GenerationPtr& gen, RequestBody& body, Endpoint endpoint) {
  Server::Impl& server = server_;
  const bool large = body.text.size() > kTrimAfterBody;
  auto release_body = [&] {
    std::string().swap(body.text);
    body.reservation.release();
  };
  try {
    if (gen->cancelled) throw PreparationCancelled();
    gen->request = endpoint == Endpoint::chat_completions
                       ? parse_chat_request(body.text, server.options.request_limits)
                       : parse_completion_request(body.text, server.options.request_limits);
    release_body();
    server.generation_defaults.apply(gen->request);
    if (gen->request.model != server.model_id) {
      throw ApiError(404,
                     "the model '" + log_excerpt(gen->request.model) +
                         "' does not exist (this server serves '" + server.model_id + "')",
                     "model", "model_not_found");
    }
    auto prepared = std::make_shared<engine::PreparedPrompt>(
        prepare_generation(server.model, gen->request, server.options.preparation, gen->cancelled));
    // The image URLs (base64 data, often megabytes) are not needed past this point.
    std::vector<std::string>().swap(gen->request.image_urls);
    asio::post(server.ioc,
               [self = shared(), gen, prepared] { self->on_prepared(gen, std::move(*prepared)); });
  } catch (const PreparationCancelled&) {
    server.metrics.count_cancelled_preparation();
  } catch (const ApiError& e) {
    // Exceptions share their message buffer between copies; hand the io thread deep copies of the fields
    // instead of the exception object.
    asio::post(server.ioc,
               [self = shared(), gen, status = e.status(), message = std::string(e.what()), param = e.param(),
                code = e.code()] { self->fail(gen, ApiError(status, message, param, code)); });
  } catch (const std::exception& e) {
    spdlog::error("request {}: {}", gen->head.id, e.what());
    std::string message = std::string("internal error while preparing the request: ") + e.what();
    asio::post(server.ioc, [self = shared(), gen, message = std::move(message)] {
      self->fail(gen, ApiError(500, message));
    });
  }
  release_body();
  if (large) malloc_trim(0);
}

template <class Stream>
void Session<Stream>::cancel_preparation() {
  if (!gen_ || gen_->done || gen_->submitted) return;
  gen_->cancelled = true;
  fail(gen_, ApiError(503, "the request was cancelled because the server is shutting down"));
}

template <class Stream>
void Session<Stream>::on_prepared(const GenerationPtr& gen, engine::PreparedPrompt prepared) {
  if (gen->done) return;
  GenerationRequest& request = gen->request;
  engine::SamplingParams params = request.params;
  const int64_t context = server_.context_length();
  const int64_t n_prompt = int64_t(prepared.prompt.ids.size());
  if (!request.max_tokens_given) {
    // OpenAI's default: as many tokens as the context leaves.
    const int64_t left = context > 0 ? context - n_prompt : 256;
    params.max_tokens = int32_t(std::clamp<int64_t>(left, 1, 4096));
  }
  if (context > 0 && n_prompt + params.max_tokens > context) {
    return fail(gen, ApiError(400,
                              "the prompt (" + std::to_string(n_prompt) + " tokens) plus max_tokens (" +
                                  std::to_string(params.max_tokens) +
                                  ") exceeds the maximum model length of " + std::to_string(context),
                              "messages", "context_length_exceeded"));
  }
  gen->n_images = prepared.items.size();
  gen->choices.resize(size_t(request.n));
  for (size_t i = 0; i < gen->choices.size(); ++i) {
    Choice& choice = gen->choices[i];
    choice.engine_id = request.n == 1 ? gen->head.id : gen->head.id + "-" + std::to_string(i);
    if (request.logprobs) choice.logprobs.emplace(request.endpoint, server_.token_texts);
  }
  for (size_t i = 0; i < gen->choices.size(); ++i) {
    engine::SamplingParams choice_params = params;
    // Seeded choices stay reproducible and differ from each other.
    if (choice_params.seed) choice_params.seed = *choice_params.seed + i;
    engine::RequestInput input{gen->choices[i].engine_id, prepared.prompt, prepared.items, choice_params};
    // Runs on the engine thread: stamp the time, copy the event, hand it to the io thread.
    auto on_event = [self = shared(), gen, i, &ioc = server_.ioc](const engine::RequestEvent& event) {
      asio::post(ioc, [self, gen, i, event, at = Clock::now()] { self->on_event(gen, i, event, at); });
    };
    try {
      server_.engine.submit(std::move(input), std::move(on_event));
    } catch (const engine::EngineError& e) {
      // The choices already submitted end with it (fail cancels them).
      gen->submitted = i > 0;
      return fail(gen, engine_refusal(e));
    }
  }
  gen->submitted = true;
  if (request.stream) {
    begin_stream();
    gen->stream_started = true;
    if (request.endpoint == Endpoint::chat_completions) {
      for (size_t i = 0; i < gen->choices.size(); ++i) {
        send_event(json::serialize(
            stream_chunk(gen->head, int64_t(i), "", true, nullptr, "", request.include_usage)));
      }
    }
  }
}
template <class Stream>
void Session<Stream>::on_event(const GenerationPtr& gen, size_t index, const engine::RequestEvent& event,
                               Clock::time_point at) {
  if (gen->done) return;  // already answered (timeout, disconnect, another choice's failure)
  const GenerationRequest& request = gen->request;
  Choice& choice = gen->choices[index];
  if (!event.samples.empty() && !gen->first_token) gen->first_token = at;
  if (choice.logprobs) {
    for (const auto& s : event.samples) choice.logprobs->add(s);
  }
  if (request.stream) {
    const bool has_logprobs = choice.logprobs && !choice.logprobs->empty();
    if (!event.text_delta.empty() || has_logprobs) {
      json::value logprobs = has_logprobs ? json::value(choice.logprobs->take()) : json::value(nullptr);
      send_event(json::serialize(stream_chunk(gen->head, int64_t(index), event.text_delta, false,
                                              std::move(logprobs), "", request.include_usage)));
    }
  } else {
    choice.text += event.text_delta;
  }
  switch (event.finish) {
    case engine::FinishReason::none:
      return;
    case engine::FinishReason::stop:
    case engine::FinishReason::length:
      choice.finish_reason = engine::finish_reason_name(event.finish);
      choice.completion_tokens = event.completion_tokens;
      gen->prompt_tokens = event.prompt_tokens;
      gen->cached_tokens = std::max(gen->cached_tokens, event.cached_tokens);
      if (request.stream) {
        send_event(json::serialize(stream_chunk(gen->head, int64_t(index), "", false, nullptr,
                                                choice.finish_reason, request.include_usage)));
      }
      if (++gen->n_finished == gen->choices.size()) on_finished(gen, at);
      return;
    case engine::FinishReason::abort:
      if (gen->timed_out) {
        return fail(gen, ApiError(504, "the request did not finish within the server's request timeout", "",
                                  "timeout"));
      }
      return fail(gen, ApiError(503, "the request was cancelled because the server is shutting down"));
    case engine::FinishReason::error:
      spdlog::error("request {}: generation failed: {}", choice.engine_id, event.error);
      return fail(gen, ApiError(500, "generation failed: " + event.error));
  }
}

// Every choice has finished: usage counts the prompt once and the completions of all choices.
template <class Stream>
void Session<Stream>::on_finished(const GenerationPtr& gen, Clock::time_point at) {
  const GenerationRequest& request = gen->request;
  int64_t completion_tokens = 0;
  for (const auto& c : gen->choices) completion_tokens += c.completion_tokens;
  json::object usage = usage_json(gen->prompt_tokens, completion_tokens, gen->cached_tokens);
  const double ttft = gen->first_token ? seconds_between(gen->arrival, *gen->first_token) : 0.0;
  const double e2e = seconds_between(gen->arrival, at);
  const double tpot = completion_tokens > 1 && gen->first_token
                          ? seconds_between(*gen->first_token, at) / double(completion_tokens - 1)
                          : 0.0;
  server_.metrics.observe_generation(ttft, tpot, e2e, gen->prompt_tokens, completion_tokens,
                                     int64_t(gen->n_images));
  exchange_.prompt_tokens = gen->prompt_tokens;
  exchange_.completion_tokens = completion_tokens;
  if (request.stream) {
    if (request.include_usage) send_event(json::serialize(usage_chunk(gen->head, std::move(usage))));
    end_stream();
  } else {
    std::vector<ChoiceResult> results;
    for (auto& c : gen->choices) {
      results.push_back(ChoiceResult{std::move(c.text), c.finish_reason,
                                     c.logprobs ? json::value(c.logprobs->take()) : json::value(nullptr)});
    }
    respond(200, "application/json",
            json::serialize(completion_body(gen->head, std::move(results), std::move(usage))));
  }
  end_generation(gen);
}

template <class Stream>
void Session<Stream>::cancel_in_engine(const GenerationPtr& gen) {
  for (const auto& c : gen->choices) {
    if (c.finish_reason.empty()) server_.engine.cancel(c.engine_id);
  }
}

template <class Stream>
void Session<Stream>::on_timeout(const GenerationPtr& gen) {
  if (gen->done) return;
  gen->timed_out = true;
  gen->cancelled = true;
  if (gen->submitted) {
    cancel_in_engine(gen);  // the abort events answer
    return;
  }
  fail(gen, ApiError(504, "the request did not finish within the server's request timeout", "", "timeout"));
}

template <class Stream>
void Session<Stream>::fail(const GenerationPtr& gen, const ApiError& error) {
  if (gen->done) return;
  if (gen->submitted) cancel_in_engine(gen);  // the other choices end with this one
  if (gen->stream_started) {
    // The status line is long gone: the error travels as an event, then the stream ends as usual.
    send_event(error.body());
    end_stream();
  } else {
    respond_error(error);
  }
  end_generation(gen);
}

template <class Stream>
void Session<Stream>::end_generation(const GenerationPtr& gen) {
  gen->done = true;
  timer_.cancel();
  --server_.in_flight;
  server_.metrics.set_in_flight(server_.in_flight);
}

template <class Stream>
void Session<Stream>::respond(int status, const std::string& content_type, const std::string& body,
                              const std::string& extra_headers) {
  server_.metrics.count_request(endpoint_, status);
  exchange_.status = status;
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                     std::string(http::obsolete_reason(http::int_to_status(unsigned(status)))) + "\r\n";
  head += "Server: mmrt\r\nContent-Type: " + content_type +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers + cors_headers_;
  head += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  send(head + body);
  response_queued_ = true;
  if (!writing_) finish_exchange();
}

template <class Stream>
void Session<Stream>::respond_error(const ApiError& error, bool close_after) {
  if (close_after) keep_alive_ = false;
  const ApiError redacted(error.status(), server_.redact(error.what()), error.param(), error.code());
  std::string headers;
  if (error.status() == 401) headers = "WWW-Authenticate: Bearer\r\n";
  if (error.status() == 503 || error.status() == 429) headers = "Retry-After: 1\r\n";
  respond(error.status(), "application/json", redacted.body(), headers);
}

template <class Stream>
void Session<Stream>::begin_stream() {
  server_.metrics.count_request(endpoint_, 200);
  exchange_.status = 200;
  std::string head =
      "HTTP/1.1 200 OK\r\nServer: mmrt\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
      cors_headers_;
  if (chunked_) head += "Transfer-Encoding: chunked\r\n";
  head += keep_alive_ ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  send(std::move(head));
}

template <class Stream>
void Session<Stream>::send_event(const std::string& data) {
  std::string event = "data: " + data + "\n\n";
  if (!chunked_) return send(std::move(event));
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", event.size());
  send(size + event + "\r\n");
}

template <class Stream>
void Session<Stream>::end_stream() {
  send_event("[DONE]");
  if (chunked_) send("0\r\n\r\n");
  response_queued_ = true;
  if (!writing_) finish_exchange();
}

template <class Stream>
void Session<Stream>::send(std::string bytes) {
  if (closed_) return;
  const uint64_t n = bytes.size();
  outbox_.push_back(Outgoing{std::move(bytes), server_.budget.charge(n)});
  if (!writing_) write_next();
}

template <class Stream>
void Session<Stream>::write_next() {
  writing_ = true;
  asio::async_write(stream_, asio::buffer(outbox_.front().bytes),
                    [self = shared()](beast::error_code ec, size_t) { self->on_write(ec); });
}

template <class Stream>
void Session<Stream>::on_write(beast::error_code ec) {
  writing_ = false;
  if (closed_) return;
  if (ec) return on_disconnect();
  outbox_.pop_front();
  if (!outbox_.empty()) return write_next();
  if (response_queued_) finish_exchange();
}

// The response is written: read the next request, or close.
template <class Stream>
void Session<Stream>::finish_exchange() {
  if (closed_ || writing_ || !outbox_.empty()) return;
  response_queued_ = false;
  busy_ = false;
  gen_.reset();
  log_access();
  if (!keep_alive_ || server_.draining) return linger_then_close();
  if (watching_) {
    // The watch read completes with operation_aborted (or with pipelined bytes) and then reads the request.
    socket().cancel();
    return;
  }
  read_request();
}

// One line per answered request at level info: client, method, target, status, tokens, latency.
template <class Stream>
void Session<Stream>::log_access() {
  if (!exchange_.active) return;
  exchange_.active = false;
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - exchange_.started).count();
  auto tokens = [](int64_t n) { return n < 0 ? std::string("-") : std::to_string(n); };
  spdlog::info("access {} \"{} {}\" {} prompt_tokens={} completion_tokens={} {:.1f}ms", client_,
               exchange_.method, exchange_.target, exchange_.status ? std::to_string(exchange_.status) : "-",
               tokens(exchange_.prompt_tokens), tokens(exchange_.completion_tokens), ms);
}

template <class Stream>
void Session<Stream>::watch_for_disconnect() {
  if (watching_ || closed_) return;
  watching_ = true;
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared()](beast::error_code ec, size_t n) { self->on_watch(ec, n); });
}

template <class Stream>
void Session<Stream>::on_watch(beast::error_code ec, size_t n) {
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

template <class Stream>
void Session<Stream>::on_disconnect() {
  if (gen_ && !gen_->done) {
    gen_->cancelled = true;
    if (gen_->submitted) cancel_in_engine(gen_);
    spdlog::info("request {}: client went away; cancelled", gen_->head.id);
    end_generation(gen_);
  }
  close();
}

// Closing with unread request bytes in the kernel makes it send a reset, which can destroy the error
// response before the client reads it; so shut down sending, then read and drop input until EOF.
template <class Stream>
void Session<Stream>::linger_then_close() {
  if (closed_) return;
  beast::error_code ec;
  socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return close();
  lingering_ = true;
  beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
  watch_for_disconnect();
}

template <class Stream>
void Session<Stream>::close() {
  if (closed_) return;
  closed_ = true;
  log_access();
  timer_.cancel();
  beast::error_code ec;
  socket().shutdown(tcp::socket::shutdown_both, ec);
  socket().close(ec);
  outbox_.clear();
  body_reservation_.release();
  server_.on_connection_closed();
}

void Server::Impl::accept() {
  if (accepting || draining || !acceptor.is_open()) return;
  if (open_connections >= int64_t(options.max_connections) && !close_idle_session()) {
    // Resumed by on_connection_closed; until then new connections wait in the kernel's backlog.
    if (!accept_paused) metrics.count_refusal("connections");
    accept_paused = true;
    return;
  }
  accepting = true;
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    accepting = false;
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
        // Retrying at once would spin: the pending connection stays in the backlog. Make room by closing
        // an idle connection, or wait a little.
        metrics.count_accept_backoff();
        if (!fd_warning_logged) {
          spdlog::warn(
              "accept: {}; closing idle connections and backing off (lower --max-connections or "
              "raise the file limit)",
              ec.message());
          fd_warning_logged = true;
        }
        if (close_idle_session()) return accept();
        accept_timer.expires_after(std::chrono::milliseconds(100));
        accept_timer.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec) accept();
        });
        return;
      }
      spdlog::warn("accept: {}", ec.message());
      return accept();
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::erase_if(sessions, [](const std::weak_ptr<Connection>& s) {
      auto live = s.lock();
      return !live || !live->open();
    });
    ++open_connections;
    if (tls) {
      auto session =
          std::make_shared<Session<TlsStream>>(*this, TlsStream(PlainStream(std::move(socket)), *tls));
      sessions.push_back(session);
      session->start();
    } else {
      auto session = std::make_shared<Session<PlainStream>>(*this, PlainStream(std::move(socket)));
      sessions.push_back(session);
      session->start();
    }
    accept();
  });
}

// Closes the connection that has waited longest for a request without sending a byte of it.
bool Server::Impl::close_idle_session() {
  std::shared_ptr<Connection> oldest;
  for (const auto& weak : sessions) {
    auto s = weak.lock();
    if (s && s->awaiting_first_byte() && (!oldest || s->idle_since() < oldest->idle_since())) oldest = s;
  }
  if (!oldest) return false;
  metrics.count_refusal("connections");
  oldest->close();
  return true;
}

void Server::Impl::on_connection_closed() {
  --open_connections;
  if (accept_paused) {
    accept_paused = false;
    accept();
  }
}

ServerGauges Server::Impl::gauges() const {
  return ServerGauges{open_connections, budget.held(), budget.limit(), preparations.queued()};
}

int64_t Server::Impl::context_length() const {
  const int64_t model_context = model.kv_spec().max_position;
  if (options.max_model_len > 0 && (model_context <= 0 || options.max_model_len < model_context)) {
    return options.max_model_len;
  }
  return model_context;
}

std::string Server::Impl::redact(std::string message) const {
  for (const auto& dir : model_dirs) {
    for (size_t at = message.find(dir); at != std::string::npos;
         at = message.find(dir, at + model_id.size())) {
      message.replace(at, dir.size(), model_id);
    }
  }
  return message;
}

std::string Server::Impl::next_request_id(Endpoint endpoint) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%llx%012llx",
                endpoint == Endpoint::chat_completions ? "chatcmpl" : "cmpl",
                static_cast<unsigned long long>(++request_counter),
                static_cast<unsigned long long>(id_rng() & 0xffffffffffffull));
  return buf;
}

// The first signal starts the graceful shutdown; another one ends the grace period at once.
void Server::Impl::on_signal() {
  if (!draining) {
    begin_shutdown();
  } else if (!cancelled) {
    std::fprintf(stderr, "second signal: cancelling in-flight requests now\n");
    grace_end = Clock::now();
  }
  signals.async_wait([this](beast::error_code ec, int) {
    if (!ec) on_signal();
  });
}

void Server::Impl::begin_shutdown() {
  draining = true;
  std::fprintf(stderr, "shutting down: %lld request(s) in flight, grace %lld ms\n",
               static_cast<long long>(in_flight), static_cast<long long>(options.shutdown_grace.count()));
  beast::error_code ec;
  acceptor.close(ec);
  accept_timer.cancel();
  for (auto& weak : sessions) {
    if (auto s = weak.lock()) s->close_if_idle();
  }
  grace_end = Clock::now() + options.shutdown_grace;
  poll_shutdown();
}

// Every 20 ms: done when nothing is in flight and every connection has closed; past the grace period,
// abort what is left (requests being prepared get 503 at once, the engine answers the others with an
// abort event); past that, stop regardless.
void Server::Impl::poll_shutdown() {
  const bool any_open = std::any_of(sessions.begin(), sessions.end(), [](const std::weak_ptr<Connection>& w) {
    auto s = w.lock();
    return s && s->open();
  });
  if (in_flight == 0 && !any_open) return ioc.stop();
  const auto now = Clock::now();
  if (now > grace_end + std::chrono::seconds(5)) return ioc.stop();
  if (now >= grace_end && !cancelled) {
    std::fprintf(stderr, "grace period over: cancelling %lld request(s)\n",
                 static_cast<long long>(in_flight));
    cancelled = true;
    for (auto& weak : sessions) {
      if (auto s = weak.lock()) s->cancel_preparation();
    }
    asio::post(pool, [this] { engine.stop(false); });
  }
  shutdown_timer.expires_after(std::chrono::milliseconds(20));
  shutdown_timer.async_wait([this](beast::error_code ec) {
    if (!ec) poll_shutdown();
  });
}

Server::Server(engine::Model& model, engine::Engine& engine, ServerOptions options)
    : impl_(std::make_unique<Impl>(model, engine, std::move(options))) {
  Impl& s = *impl_;
  if (s.options.tls_certificate_file.empty() != s.options.tls_key_file.empty()) {
    throw std::runtime_error("TLS needs both a certificate file and a key file");
  }
  if (s.options.tls_certificate_file.empty()) return;
  asio::ssl::context& tls = s.tls.emplace(asio::ssl::context::tls_server);
  tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1);
  beast::error_code ec;
  tls.use_certificate_chain_file(s.options.tls_certificate_file, ec);
  if (ec)
    throw std::runtime_error("cannot use the certificate " + s.options.tls_certificate_file + ": " +
                             ec.message());
  tls.use_private_key_file(s.options.tls_key_file, asio::ssl::context::pem, ec);
  if (ec)
    throw std::runtime_error("cannot use the private key " + s.options.tls_key_file + ": " + ec.message());
}

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
    if (!ec) s.on_signal();
  });
  s.accept();
  s.ioc.run();
  // Workers may still be preparing; then no engine callback can be left waiting on a live session.
  // Requests still queued for preparation were cancelled, so each ends at its first check.
  s.pool.join();
  s.engine.stop(false);
  // Teardown (the engine, the model, the plugins) must not be cut short by a late signal: exit 0.
  s.signals.clear();
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
}

}  // namespace mmrt::server
