// The in-flight batching engine: requests join and leave the running batch at every step; prefill
// chunks and decode steps share one token budget; KV blocks are paged, content-addressed for prefix
// reuse (image positions hash the image, not the placeholder id), and freed on finish, abort or error.
// Encoder-decoder models run the same way: each request's encoder memory is computed once into paged
// cross-attention blocks that are content-addressed too.
//
// Three stages do the work: the Scheduler plans each step, the Runner executes it on the model, and the
// OutputStage turns sampled tokens into text and events. The Engine owns the request lifecycle around
// them: intake, cancellation, stats and the loop.
//
// Threading: submit(), cancel() and stats() are thread-safe. Everything else runs on one engine thread:
// either the background loop of start(), or the caller of step() when the loop is not started. Event
// callbacks run on the engine thread and must not block (hand the event to another thread's queue).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/backend/tensor.hpp"
#include "core/engine/block_pool.hpp"
#include "core/engine/model.hpp"
#include "core/engine/output_stage.hpp"
#include "core/engine/runner.hpp"
#include "core/engine/sampling.hpp"
#include "core/engine/scheduler.hpp"
#include "core/engine/sequence.hpp"

namespace mmrt::engine {

struct EngineConfig {
  int32_t block_size = 16;
  int64_t kv_cache_bytes = 256ll << 20;  // sizes the cache when n_blocks is 0
  int64_t n_blocks = 0;
  int32_t max_num_seqs = 64;
  int32_t max_batched_tokens = 2048;  // per step; longer prompts are prefilled in chunks
  int32_t max_queue = 1024;           // waiting requests beyond this are refused (back-pressure)
  bool prefix_caching = true;
  int32_t encoder_cache_items = 64;
  // Encoder-decoder models: the share of kv_cache_bytes given to cross-attention blocks.
  double cross_cache_fraction = 0.5;
};

// A request the engine cannot take: invalid, too long to ever fit, or the queue is full.
class EngineError : public std::runtime_error {
 public:
  enum class Kind { invalid, too_long, overloaded, shutting_down };
  EngineError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct EngineStats {
  int64_t waiting = 0, running = 0;
  int64_t kv_blocks_total = 0, kv_blocks_held = 0;
  int64_t prefix_query_tokens = 0, prefix_hit_tokens = 0;
  int64_t encoder_cache_hits = 0, encoder_runs = 0;
  int64_t cross_cache_hits = 0, cross_fills = 0;  // encoder-decoder: cross K/V reused or computed
  int64_t cross_blocks_total = 0, cross_blocks_held = 0;
  int64_t prompt_tokens = 0, generated_tokens = 0;
  int64_t finished = 0, aborted = 0, failed = 0, preempted = 0;
  int64_t steps = 0;
};

class Engine {
 public:
  Engine(Model& model, EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request. Throws EngineError when it is refused; on success `on_event` will eventually see
  // exactly one event with finish != none.
  void submit(RequestInput input, EventCallback on_event);
  // Aborts a queued or running request; its blocks are freed at the next step. Unknown ids are ignored.
  void cancel(const std::string& id);

  void start();
  // Stops the loop. drain: finish what was submitted first; otherwise abort everything.
  void stop(bool drain);
  // One scheduling iteration on the caller's thread; returns whether requests remain.
  bool step();

  EngineStats stats() const;
  const EngineConfig& config() const { return config_; }

 private:
  void take_submissions();
  void fail_batch(const StepPlan& plan, const std::string& error);
  void sample(const StepPlan& plan);
  void end(std::unique_ptr<Sequence> seq, FinishReason reason, std::string error = {});
  void end(Sequence& seq, FinishReason reason, RequestEvent& event, std::string error = {});
  void publish_stats();
  void loop();

  Model& model_;
  EngineConfig config_;
  MmrtKvSpec spec_{};
  int64_t n_cross_blocks_ = 0;  // 0 for decoder-only models
  int64_t max_blocks_per_seq_ = 0, max_cross_blocks_per_seq_ = 0;
  BlockPool pool_;
  std::unique_ptr<BlockPool> cross_pool_;
  Scheduler scheduler_;
  Runner runner_;
  OutputStage output_;

  // Engine-thread state.
  std::unordered_map<std::string, Sequence*> by_id_;

  // Shared with other threads.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Sequence>> submitted_;
  std::vector<std::string> cancelled_;
  int64_t queued_ = 0;  // submitted + waiting + running, for back-pressure
  bool stopping_ = false, draining_ = false;
  EngineStats stats_;
  std::thread thread_;
};

}  // namespace mmrt::engine
