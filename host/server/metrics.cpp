#include "host/server/metrics.hpp"

#include <cstdio>

namespace mmrt::server {

namespace {

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void add_metric(std::string& out, const char* type, const std::string& name, const std::string& help,
                double value) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  out += name + " " + format_number(value) + "\n";
}

}  // namespace

void Histogram::observe(double value) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) ++counts_[i];
  }
  ++count_;
  sum_ += value;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  for (size_t i = 0; i < bounds_.size(); ++i) {
    out += name + "_bucket{le=\"" + format_number(bounds_[i]) + "\"} " + std::to_string(counts_[i]) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum " + format_number(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
}

namespace {

// A Prometheus label value: backslash, double quote and newline escaped.
std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

// Adds `label` to every sample line of `text`: "name 1" -> "name{label} 1", "name{a="b"} 1" ->
// "name{label,a="b"} 1".
std::string with_label(const std::string& text, const std::string& label) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    if (line.empty() || line.front() == '#') {
      out += line;
    } else {
      const size_t brace = line.find('{'), space = line.find(' ');
      if (brace != std::string_view::npos && brace < space) {
        out.append(line.substr(0, brace + 1)).append(label).append(",").append(line.substr(brace + 1));
      } else {
        out.append(line.substr(0, space)).append("{").append(label).append("}").append(line.substr(space));
      }
    }
    out += '\n';
    start = end + 1;
  }
  return out;
}

}  // namespace

ServerMetrics::ServerMetrics(std::string model_name)
    : model_label_("model_name=\"" + label_value(model_name) + "\""),
      ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      tpot_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
      e2e_({0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}) {}

void ServerMetrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{endpoint, status}];
}

void ServerMetrics::observe_generation(double ttft_s, double tpot_s, double e2e_s, int64_t prompt_tokens,
                                       int64_t completion_tokens, int64_t n_images) {
  std::lock_guard lock(mutex_);
  ttft_.observe(ttft_s);
  if (completion_tokens > 1) tpot_.observe(tpot_s);
  e2e_.observe(e2e_s);
  prompt_tokens_ += uint64_t(prompt_tokens);
  completion_tokens_ += uint64_t(completion_tokens);
  images_ += uint64_t(n_images);
}

void ServerMetrics::set_in_flight(int64_t n) {
  std::lock_guard lock(mutex_);
  in_flight_ = n;
}

void ServerMetrics::count_refusal(const std::string& reason) {
  std::lock_guard lock(mutex_);
  ++refusals_[reason];
}

void ServerMetrics::count_accept_backoff() {
  std::lock_guard lock(mutex_);
  ++accept_backoffs_;
}

void ServerMetrics::count_cancelled_preparation() {
  std::lock_guard lock(mutex_);
  ++cancelled_preparations_;
}

std::string ServerMetrics::render(const engine::EngineStats& s, const ServerGauges& g) const {
  std::lock_guard lock(mutex_);
  std::string out;
  add_metric(out, "gauge", "mmrt_http_connections_open", "Open client connections.",
             double(g.connections_open));
  add_metric(out, "counter", "mmrt_http_accept_backoffs_total",
             "Times accepting paused because the process ran out of file descriptors.",
             double(accept_backoffs_));
  add_metric(out, "gauge", "mmrt_http_buffered_bytes", "Bytes held in request bodies and unsent responses.",
             double(g.buffered_bytes));
  add_metric(out, "gauge", "mmrt_http_buffered_bytes_limit", "The limit on mmrt_http_buffered_bytes.",
             double(g.buffered_bytes_limit));
  add_metric(out, "gauge", "mmrt_preparations_queued", "Requests waiting for a preparation worker.",
             double(g.preparations_queued));
  add_metric(out, "counter", "mmrt_preparations_cancelled_total",
             "Preparations stopped early (client gone, timeout, shutdown).", double(cancelled_preparations_));
  out += "# HELP mmrt_http_refused_total Requests refused because a server limit was reached.\n";
  out += "# TYPE mmrt_http_refused_total counter\n";
  for (const char* reason : {"connections", "memory", "preparation_queue"}) {
    const auto it = refusals_.find(reason);
    out += std::string("mmrt_http_refused_total{reason=\"") + reason + "\"} " +
           std::to_string(it == refusals_.end() ? 0 : it->second) + "\n";
  }
  add_metric(out, "gauge", "mmrt_requests_in_flight",
             "HTTP generation requests being prepared, queued or run.", double(in_flight_));
  add_metric(out, "gauge", "mmrt_num_requests_waiting", "Requests queued in the engine.", double(s.waiting));
  add_metric(out, "gauge", "mmrt_num_requests_running", "Requests in the engine's running batch.",
             double(s.running));
  add_metric(out, "gauge", "mmrt_kv_blocks_total", "KV cache blocks.", double(s.kv_blocks_total));
  add_metric(out, "gauge", "mmrt_kv_blocks_held", "KV cache blocks held by requests.",
             double(s.kv_blocks_held));
  add_metric(out, "gauge", "mmrt_kv_cache_usage_ratio", "Fraction of KV cache blocks held by requests.",
             s.kv_blocks_total ? double(s.kv_blocks_held) / double(s.kv_blocks_total) : 0.0);
  add_metric(out, "counter", "mmrt_prefix_cache_queries_total",
             "Prompt tokens looked up in the prefix cache.", double(s.prefix_query_tokens));
  add_metric(out, "counter", "mmrt_prefix_cache_hits_total", "Prompt tokens served from the prefix cache.",
             double(s.prefix_hit_tokens));
  add_metric(out, "gauge", "mmrt_prefix_cache_hit_rate",
             "Prefix cache hits / queries, in tokens, since start.",
             s.prefix_query_tokens ? double(s.prefix_hit_tokens) / double(s.prefix_query_tokens) : 0.0);
  add_metric(out, "counter", "mmrt_encoder_cache_hits_total",
             "Images whose embeddings came from the encoder cache.", double(s.encoder_cache_hits));
  add_metric(out, "counter", "mmrt_encoder_runs_total", "Images run through the vision encoder.",
             double(s.encoder_runs));
  add_metric(out, "counter", "mmrt_preemptions_total", "Requests preempted to free KV blocks.",
             double(s.preempted));
  add_metric(out, "counter", "mmrt_engine_steps_total", "Engine scheduling steps.", double(s.steps));
  add_metric(out, "counter", "mmrt_engine_prompt_tokens_total", "Prompt tokens prefilled by the engine.",
             double(s.prompt_tokens));
  add_metric(out, "counter", "mmrt_engine_generation_tokens_total", "Tokens generated by the engine.",
             double(s.generated_tokens));
  add_metric(out, "counter", "mmrt_engine_requests_aborted_total",
             "Engine requests aborted (cancel, disconnect).", double(s.aborted));
  add_metric(out, "counter", "mmrt_engine_requests_failed_total", "Engine requests ended by an error.",
             double(s.failed));
  add_metric(out, "counter", "mmrt_prompt_tokens_total", "Prompt tokens of finished HTTP generations.",
             double(prompt_tokens_));
  add_metric(out, "counter", "mmrt_generation_tokens_total",
             "Completion tokens of finished HTTP generations.", double(completion_tokens_));
  add_metric(out, "counter", "mmrt_images_total", "Images in finished HTTP generations.", double(images_));
  ttft_.render(out, "mmrt_time_to_first_token_seconds", "From request arrival to the first generated token.");
  tpot_.render(out, "mmrt_time_per_output_token_seconds", "Mean time per generated token after the first.");
  e2e_.render(out, "mmrt_e2e_request_latency_seconds", "From request arrival to the last token.");
  out += "# HELP mmrt_http_requests_total HTTP requests by endpoint and status.\n";
  out += "# TYPE mmrt_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += "mmrt_http_requests_total{endpoint=\"" + key.first + "\",status=\"" + std::to_string(key.second) +
           "\"} " + std::to_string(n) + "\n";
  }
  return with_label(out, model_label_);
}

}  // namespace mmrt::server
