// Server metrics in the Prometheus text exposition format (version 0.0.4), served at GET /metrics.
// Every sample carries a model_name label (the served model id), as vLLM's do, so dashboards built for
// several servers can tell them apart.
//
// The server records request outcomes and latencies here; engine gauges (queue, running, KV blocks, prefix
// cache) are read from Engine::stats() at scrape time. Names start with mmrt_; times are in seconds.
// Thread-safe: every member takes the one mutex.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/engine/engine.hpp"

namespace mmrt::server {

// Cumulative buckets as Prometheus expects: counts[i] = observations <= bounds[i]; +Inf is count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}
  void observe(double value);
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

// The server's own gauges, read on the io thread when /metrics is rendered.
struct ServerGauges {
  int64_t connections_open = 0;
  uint64_t buffered_bytes = 0;  // request bodies and unsent responses (MemoryBudget)
  uint64_t buffered_bytes_limit = 0;
  size_t preparations_queued = 0;
};

class ServerMetrics {
 public:
  explicit ServerMetrics(std::string model_name);

  // One finished HTTP request on `endpoint` ("/v1/chat/completions", ...) with its status.
  void count_request(const std::string& endpoint, int status);
  // One finished generation: time to first token, mean time per output token after the first, end to end
  // (from the request's arrival, so image decoding and queueing count), and its token counts.
  void observe_generation(double ttft_s, double tpot_s, double e2e_s, int64_t prompt_tokens,
                          int64_t completion_tokens, int64_t n_images);
  void set_in_flight(int64_t n);
  // A request refused before any work because a limit was reached: "connections", "memory",
  // "preparation_queue".
  void count_refusal(const std::string& reason);
  void count_accept_backoff();
  void count_cancelled_preparation();

  std::string render(const engine::EngineStats& stats, const ServerGauges& gauges) const;

 private:
  const std::string model_label_;  // model_name="...", escaped
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, uint64_t> refusals_;
  uint64_t accept_backoffs_ = 0, cancelled_preparations_ = 0;
  Histogram ttft_, tpot_, e2e_;
  uint64_t prompt_tokens_ = 0, completion_tokens_ = 0, images_ = 0;
  int64_t in_flight_ = 0;
};

}  // namespace mmrt::server
