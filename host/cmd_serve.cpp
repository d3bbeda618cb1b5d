// mmrt serve: load one model, start the engine loop and serve the OpenAI-compatible API until SIGINT/SIGTERM.
#include <malloc.h>
#include <sys/resource.h>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/address.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>

#include "core/engine/engine.hpp"
#include "host/commands.hpp"
#include "host/runtime.hpp"
#include "host/server/server.hpp"

namespace mmrt::host {

namespace {

std::vector<OptionSpec> engine_options() {
  return {
      {"kv-cache-mb", true, false, "KV cache size in MiB (default 256)"},
      {"block-size", true, false, "tokens per KV block (default 16)"},
      {"max-num-seqs", true, false, "requests in the running batch at most (default 64)"},
      {"max-batched-tokens", true, false,
       "tokens per engine step; longer prompts are chunked (default 2048)"},
      {"max-queue", true, false, "waiting requests beyond this get 429 (default 1024)"},
      {"no-prefix-caching", false, false, "do not reuse KV blocks of identical prompt prefixes"},
  };
}

engine::EngineConfig engine_config(const Args& args) {
  engine::EngineConfig config;
  config.kv_cache_bytes = args.get_int("kv-cache-mb", 256) << 20;
  config.block_size = int32_t(args.get_int("block-size", config.block_size));
  config.max_num_seqs = int32_t(args.get_int("max-num-seqs", config.max_num_seqs));
  config.max_batched_tokens = int32_t(args.get_int("max-batched-tokens", config.max_batched_tokens));
  config.max_queue = int32_t(args.get_int("max-queue", config.max_queue));
  config.prefix_caching = !args.flag("no-prefix-caching");
  return config;
}

std::chrono::milliseconds seconds_option(const Args& args, const std::string& name, double fallback) {
  const double s = args.get_double(name, fallback);
  if (!(s > 0)) throw UsageError("serve: --" + name + " must be > 0 seconds");
  return std::chrono::milliseconds(int64_t(s * 1000));
}

// nullopt unless --allow-remote-media: fetching stays off unless the operator asks for it, and then only
// from the hosts they list.
std::optional<server::RemoteMediaPolicy> remote_media_policy(const Args& args) {
  const std::vector<std::string> allow = args.list("remote-media-allow");
  if (!args.flag("allow-remote-media")) {
    if (!allow.empty())
      spdlog::warn("serve: --remote-media-allow has no effect without --allow-remote-media");
    return std::nullopt;
  }
  if (allow.empty()) {
    throw UsageError(
        "serve: --allow-remote-media needs --remote-media-allow HOST[,HOST...], the hosts (or *.domain "
        "patterns) images may be fetched from");
  }
  server::RemoteMediaPolicy policy;
  try {
    policy.allow_list = server::HostAllowList(allow);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("serve: --remote-media-allow: ") + e.what());
  }
  const int64_t max_bytes = args.get_int("remote-media-max-bytes", int64_t(policy.max_bytes));
  if (max_bytes < 1) throw UsageError("serve: --remote-media-max-bytes must be positive");
  policy.max_bytes = uint64_t(max_bytes);
  policy.timeout = seconds_option(args, "remote-media-timeout", double(policy.timeout.count()) / 1000);
  return policy;
}

// Keys from --api-key, --api-key-file (one per line; blank lines and lines starting with # skipped) and
// MMRT_API_KEY. A key in a file or the environment is not visible in the process list.
std::vector<std::string> api_keys(const Args& args) {
  std::vector<std::string> keys;
  if (args.has("api-key")) keys.push_back(args.get("api-key"));
  if (args.has("api-key-file")) {
    const std::string path = args.get("api-key-file");
    std::ifstream in(path);
    if (!in) throw UsageError("serve: --api-key-file " + path + ": cannot be read");
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
        line.pop_back();
      const size_t start = line.find_first_not_of(" \t");
      if (start == std::string::npos || line[start] == '#') continue;
      keys.push_back(line.substr(start));
    }
    if (keys.empty()) throw UsageError("serve: --api-key-file " + path + " has no key");
  }
  if (keys.empty()) {
    if (const char* env = std::getenv("MMRT_API_KEY"); env && *env) keys.push_back(env);
  }
  return keys;
}

// Connections the file limit leaves room for, after the model files, plugins and image fetches.
int64_t connections_the_file_limit_allows() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return INT64_MAX;
  return std::max<int64_t>(int64_t(limit.rlim_cur) - 64, 16);
}

// Beyond loopback, clients that use a host name need --allowed-hosts, and without a key anyone on the network
// can use the model.
void warn_if_exposed(const server::ServerOptions& options) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(options.host, ec);
  if (ec || address.is_loopback()) return;
  if (options.cross_site.allowed_hosts.empty()) {
    spdlog::info(
        "serve: clients must reach --host {} by IP address or localhost; --allowed-hosts admits names",
        options.host);
  }
  if (!options.api_keys.empty()) return;
  spdlog::warn(
      "serve: --host {} accepts connections from other machines and no API key is set; anyone who "
      "can reach this port can use the model (set --api-key-file or MMRT_API_KEY)",
      options.host);
}

int64_t positive(const Args& args, const std::string& name, int64_t fallback) {
  const int64_t v = args.get_int(name, fallback);
  if (v < 1) throw UsageError("serve: --" + name + " must be positive");
  return v;
}

}  // namespace

int run_serve(const std::vector<std::string>& argv) {
  auto specs = model_options();
  for (auto& s : engine_options()) specs.push_back(s);
  specs.insert(
      specs.end(),
      {
          {"host", true, false, "address to bind (default 127.0.0.1)"},
          {"port", true, false, "port to bind; 0 picks a free one (default 8000)"},
          {"served-model-name", true, false, "model id in the API (default: folder name)"},
          {"api-key", true, false, "require Authorization: Bearer <key> (also MMRT_API_KEY)"},
          {"api-key-file", true, false, "file with accepted API keys, one per line"},
          {"ssl-certfile", true, false, "PEM certificate chain: serve HTTPS (needs --ssl-keyfile)"},
          {"ssl-keyfile", true, false, "PEM private key of --ssl-certfile"},
          {"allowed-hosts", true, true,
           "host names accepted in the Host header besides IP addresses and localhost; * for any"},
          {"allowed-origins", true, true,
           "origins (scheme://host[:port]) allowed to call the API from a browser (CORS); * for any"},
          {"max-connections", true, false,
           "open connections at most (default 1024, or the file limit minus 64 if lower)"},
          {"max-buffered-bytes", true, false,
           "request bodies and unsent responses held at once, all clients (default 268435456)"},
          {"max-queued-preparations", true, false,
           "requests waiting for a worker; more get 429 (default 256)"},
          {"max-content-parts", true, false, "messages plus content parts per request (default 1024)"},
          {"max-image-aspect-ratio", true, false, "longer side / shorter side per image (default 50)"},
          {"max-model-len", true, false, "prompt plus completion tokens (default: the model's context)"},
          {"max-body-bytes", true, false, "largest request body (default 33554432)"},
          {"max-images", true, false, "images per request at most (default 8)"},
          {"max-image-pixels", true, false, "width*height per image at most (default 16777216)"},
          {"allowed-local-media-dir", true, false,
           "image_url may name files under this directory (off by default)"},
          {"allow-remote-media", false, false,
           "fetch http(s) image URLs from the hosts in --remote-media-allow (off by default)"},
          {"remote-media-allow", true, true,
           "hosts, *.domain patterns or IP addresses images may be fetched from"},
          {"remote-media-max-bytes", true, false, "largest fetched image (default 20971520)"},
          {"remote-media-timeout", true, false,
           "seconds one image fetch may take, redirects included (default 10)"},
          {"request-timeout", true, false, "seconds a request may take (default 600)"},
          {"read-timeout", true, false, "seconds to receive a request (default 60)"},
          {"shutdown-grace", true, false,
           "seconds in-flight requests get on SIGINT/SIGTERM before cancel (default 30)"},
          {"workers", true, false, "threads decoding images and preparing prompts (default 2)"},
      });
  Args args("serve", specs, argv);
  if (args.flag("help")) {
    std::cout << args.usage();
    return 0;
  }
  setup_logging(args);

  server::ServerOptions options;
  options.host = args.get("host", options.host);
  const int64_t port = args.get_int("port", options.port);
  if (port < 0 || port > 65535) throw UsageError("serve: --port must be between 0 and 65535");
  options.port = uint16_t(port);
  options.served_model_name = args.get("served-model-name");
  options.api_keys = api_keys(args);
  options.tls_certificate_file = args.get("ssl-certfile");
  options.tls_key_file = args.get("ssl-keyfile");
  if (options.tls_certificate_file.empty() != options.tls_key_file.empty()) {
    throw UsageError("serve: --ssl-certfile and --ssl-keyfile go together");
  }
  options.cross_site.allowed_hosts = args.list("allowed-hosts");
  options.cross_site.allowed_origins = args.list("allowed-origins");
  const int64_t fd_room = connections_the_file_limit_allows();
  options.max_connections = size_t(positive(args, "max-connections", std::min<int64_t>(fd_room, 1024)));
  if (int64_t(options.max_connections) > fd_room) {
    spdlog::warn(
        "serve: --max-connections {} is more than the file limit leaves room for ({}); accepting "
        "will back off when descriptors run out (raise it with ulimit -n)",
        options.max_connections, fd_room);
  }
  options.max_buffered_bytes =
      uint64_t(positive(args, "max-buffered-bytes", int64_t(options.max_buffered_bytes)));
  options.max_queued_preparations =
      size_t(positive(args, "max-queued-preparations", int64_t(options.max_queued_preparations)));
  options.request_limits.max_content_parts =
      size_t(positive(args, "max-content-parts", int64_t(options.request_limits.max_content_parts)));
  options.preparation.max_image_aspect_ratio =
      args.get_double("max-image-aspect-ratio", options.preparation.max_image_aspect_ratio);
  if (!(options.preparation.max_image_aspect_ratio >= 1)) {
    throw UsageError("serve: --max-image-aspect-ratio must be at least 1");
  }
  options.max_model_len = args.has("max-model-len") ? positive(args, "max-model-len", 0) : 0;
  const int64_t max_body = args.get_int("max-body-bytes", int64_t(options.max_body_bytes));
  const int64_t max_images = args.get_int("max-images", int64_t(options.request_limits.max_images));
  const int64_t max_pixels = args.get_int("max-image-pixels", int64_t(options.preparation.max_image_pixels));
  const int64_t workers = args.get_int("workers", options.n_workers);
  if (max_body < 1 || max_images < 0 || max_pixels < 1 || workers < 1) {
    throw UsageError(
        "serve: --max-body-bytes, --max-image-pixels and --workers must be positive, --max-images >= 0");
  }
  options.max_body_bytes = size_t(max_body);
  options.request_limits.max_images = size_t(max_images);
  options.preparation.max_image_pixels = uint64_t(max_pixels);
  options.preparation.media.max_bytes = size_t(max_body);
  options.n_workers = int(workers);
  if (args.has("allowed-local-media-dir")) {
    const std::filesystem::path dir = args.get("allowed-local-media-dir");
    std::error_code ec;
    const auto canonical = std::filesystem::canonical(dir, ec);
    if (ec || !std::filesystem::is_directory(canonical)) {
      throw UsageError("serve: --allowed-local-media-dir " + dir.string() + " is not a directory");
    }
    options.preparation.media.allowed_local_dir = canonical;
  }
  options.preparation.media.remote = remote_media_policy(args);
  options.request_timeout = seconds_option(args, "request-timeout", 600);
  options.read_timeout = seconds_option(args, "read-timeout", 60);
  options.shutdown_grace = seconds_option(args, "shutdown-grace", 30);

  warn_if_exposed(options);
  // Buffers of large requests are allocated with mmap, so they go back to the system when freed instead of
  // staying in the heap.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);

  LoadedModel loaded = load_model(args);
  const int64_t model_context = loaded.model->kv_spec().max_position;
  if (options.max_model_len > 0 && model_context > 0 && options.max_model_len > model_context) {
    throw UsageError("serve: --max-model-len " + std::to_string(options.max_model_len) +
                     " is longer than the model's context of " + std::to_string(model_context));
  }
  engine::Engine engine(*loaded.model, engine_config(args));
  server::Server server(*loaded.model, engine, options);
  const uint16_t bound = server.listen();
  engine.start();
  std::fprintf(stderr, "listening on %s://%s:%u\n", options.tls_certificate_file.empty() ? "http" : "https",
               options.host.c_str(), unsigned(bound));
  std::fflush(stderr);
  server.run();
  std::fprintf(stderr, "server stopped\n");
  return 0;
}

}  // namespace mmrt::host
