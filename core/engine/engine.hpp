// The in-flight batching engine: requests join and leave the running batch at every step; prefill
// chunks and decode steps share one token budget; KV blocks are paged, content-addressed for prefix
// reuse (image positions hash the image, not the placeholder id), and freed on finish, abort or error.
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
#include "core/engine/sampling.hpp"

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

struct RequestInput {
  std::string id;
  PaddedPrompt prompt;
  std::vector<std::shared_ptr<const ProcessedItem>> items;
  SamplingParams params;
};

enum class FinishReason { none, stop, length, abort, error };
const char* finish_reason_name(FinishReason r);

struct RequestTimings {
  double queue_ms = 0, ttft_ms = 0, tpot_ms = 0, total_ms = 0;
};

// What one step produced for one request.
struct RequestEvent {
  std::string id;
  std::vector<Sample> samples;  // tokens generated this step (usually one)
  std::string text_delta;       // newly final text (skip_special_tokens, stop strings held back)
  FinishReason finish = FinishReason::none;
  std::string error;  // when finish == error
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  RequestTimings timings;  // filled when finished
};
using EventCallback = std::function<void(const RequestEvent&)>;

struct EngineStats {
  int64_t waiting = 0, running = 0;
  int64_t kv_blocks_total = 0, kv_blocks_held = 0;
  int64_t prefix_query_tokens = 0, prefix_hit_tokens = 0;
  int64_t encoder_cache_hits = 0, encoder_runs = 0;
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
  struct Sequence;
  struct ScheduledChunk {
    Sequence* seq;
    int64_t n_tokens;
  };

  void take_submissions();
  std::vector<ScheduledChunk> schedule();
  bool reserve_blocks(Sequence& seq, int64_t n_tokens);
  void admit_prefix(Sequence& seq);
  void preempt(Sequence& seq);
  void ensure_encoded(const std::vector<ScheduledChunk>& chunks);
  void run_batch(const std::vector<ScheduledChunk>& chunks);
  void publish_full_blocks(Sequence& seq);
  BlockHash block_hash(const Sequence& seq, int64_t block_index, const BlockHash& parent) const;
  void append_token(Sequence& seq, const Sample& sample, RequestEvent& event);
  void finish(Sequence& seq, FinishReason reason, RequestEvent& event, std::string error = {});
  void release(Sequence& seq);
  void loop();

  Model& model_;
  EngineConfig config_;
  MmrtKvSpec spec_{};
  int64_t n_blocks_ = 0;
  int64_t max_blocks_per_seq_ = 0;
  std::vector<backend::Tensor> k_cache_, v_cache_;
  std::vector<MmrtKvLayer> kv_layers_;
  BlockPool pool_;

  // Engine-thread state.
  std::list<std::unique_ptr<Sequence>> waiting_;
  std::list<std::unique_ptr<Sequence>> running_;
  std::unordered_map<std::string, Sequence*> by_id_;
  struct EncoderCacheEntry {
    std::shared_ptr<backend::Tensor> embeds;
    uint64_t last_use;
  };
  std::unordered_map<BlockHash, EncoderCacheEntry, BlockHashHasher> encoder_cache_;
  uint64_t use_clock_ = 0;
  backend::Tensor logits_;

  // Shared with other threads.
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Sequence>> submitted_;
  std::vector<std::string> cancelled_;
  int64_t queued_ = 0;  // submitted + waiting, for back-pressure
  bool stopping_ = false, draining_ = false;
  EngineStats stats_;
  std::thread thread_;
};

}  // namespace mmrt::engine
