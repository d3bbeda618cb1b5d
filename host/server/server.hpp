// The OpenAI-compatible HTTP server: POST /v1/chat/completions and /v1/completions (plain or streamed as
// server-sent events), GET /v1/models, /health, /metrics and /version, POST /tokenize and /detokenize.
//
// Threads: one io thread runs every socket, timer and response; a worker pool (boost::asio::thread_pool)
// parses bodies, decodes images and prepares prompts, fed round-robin per client by a PreparationQueue;
// the engine runs its own loop thread and its event callbacks only post to the io thread. So all
// connection state is touched on the io thread alone.
// With a certificate and key the server speaks TLS (Beast over OpenSSL) and nothing else.
// A request's life: header (Host, Origin, API key, content type, memory budget; 100-continue) -> body
// (body limit) -> worker: parse, decode, template, tokenize, process -> io: Engine::submit -> engine
// events -> io: SSE chunks or one JSON body. A client that disconnects, a request timeout and shutdown
// all end in a cancelled preparation or Engine::cancel (or stop), so the engine frees the request's KV
// blocks and no worker spends more time on it than the stage it is in.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/engine/engine.hpp"
#include "core/engine/model.hpp"
#include "host/server/cross_site_policy.hpp"
#include "host/server/openai_request.hpp"
#include "host/server/request_preparation.hpp"

namespace mmrt::server {

template <class Stream>
class Session;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;           // 0 picks a free port
  std::string served_model_name;  // the API's model id; the model folder's name when empty
  // When any is set, requests need "Authorization: Bearer <one of them>" (/health, /metrics and /version
  // excepted).
  std::vector<std::string> api_keys;
  // PEM files; when set, the server speaks only HTTPS (TLS 1.2 or later).
  std::string tls_certificate_file, tls_key_file;
  size_t max_body_bytes = 32u << 20;
  // Request bodies being received or parsed plus unsent responses, all connections together. Bodies of
  // up to 64 KiB are always admitted (their total is bounded by max_connections).
  uint64_t max_buffered_bytes = 256ull << 20;
  size_t max_connections = 1024;  // then the idle connection waiting longest is closed, or accept waits
  size_t max_queued_preparations = 256;  // requests waiting for a worker; more get 429
  int64_t max_model_len = 0;             // prompt + completion tokens; 0: the model's context
  RequestLimits request_limits;
  PreparationLimits preparation;
  CrossSitePolicy cross_site;
  std::chrono::milliseconds request_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds read_timeout{std::chrono::seconds(60)};  // to receive a whole request
  std::chrono::milliseconds shutdown_grace{
      std::chrono::seconds(30)};  // then in-flight requests are cancelled
  int n_workers = 2;
};

class Server {
 public:
  // The engine must be started; the server never stops it before run() ends.
  Server(engine::Model& model, engine::Engine& engine, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; returns the bound port. Throws std::runtime_error naming the address on failure.
  uint16_t listen();
  // Serves until SIGINT or SIGTERM, then stops accepting, lets in-flight requests finish for the grace
  // period (a second signal ends it at once), cancels the rest, stops the engine and returns. From then
  // on SIGINT and SIGTERM are ignored, so the process tears down and exits 0.
  void run();

 private:
  template <class Stream>
  friend class Session;  // one connection, in server.cpp
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mmrt::server
