// mmrt serve: load one model, start the engine loop and serve the OpenAI-compatible API until SIGINT/SIGTERM.
#include <spdlog/spdlog.h>
#include <cstdio>
#include <filesystem>
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

}  // namespace

int run_serve(const std::vector<std::string>& argv) {
  auto specs = model_options();
  for (auto& s : engine_options()) specs.push_back(s);
  specs.insert(specs.end(),
               {
                   {"host", true, false, "address to bind (default 127.0.0.1)"},
                   {"port", true, false, "port to bind; 0 picks a free one (default 8000)"},
                   {"served-model-name", true, false, "model id in the API (default: folder name)"},
                   {"api-key", true, false, "require Authorization: Bearer <key> (also MMRT_API_KEY)"},
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
  options.api_key = args.get("api-key");
  if (options.api_key.empty()) {
    if (const char* env = std::getenv("MMRT_API_KEY")) options.api_key = env;
  }
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

  LoadedModel loaded = load_model(args);
  engine::Engine engine(*loaded.model, engine_config(args));
  server::Server server(*loaded.model, engine, options);
  const uint16_t bound = server.listen();
  engine.start();
  std::fprintf(stderr, "listening on http://%s:%u\n", options.host.c_str(), unsigned(bound));
  std::fflush(stderr);
  server.run();
  std::fprintf(stderr, "server stopped\n");
  return 0;
}

}  // namespace mmrt::host
