// The scheduling stage: which sequences run in the next step and with how many tokens. It owns the
// queues, admission (prefix reuse and, for encoder-decoder requests, content-addressed cross-attention
// blocks), block reservation and preemption, and publishes finished blocks for reuse. It never touches
// tensors: its output is a StepPlan the runner executes.
//
// Prefix hashes chain block by block from the sequence's hash root (the encoder input's hash for an
// encoder-decoder request, zero otherwise); a placeholder position hashes its item's content and offset.
// Cross blocks are keyed by (root, block index), so a request with the same image, processor and encoder
// ids reuses another's cross K/V without running the encoder.
//
// Not thread-safe: the engine thread is its only user.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "core/engine/block_pool.hpp"
#include "core/engine/sequence.hpp"

namespace mmrt::engine {

struct SchedulerConfig {
  int32_t block_size = 16;
  int32_t max_num_seqs = 64;
  int32_t max_batched_tokens = 2048;
  bool prefix_caching = true;
  int64_t max_blocks_per_seq = 0;
  int64_t max_cross_blocks_per_seq = 0;
};

struct ScheduledChunk {
  Sequence* seq;
  int64_t n_tokens;  // decoder tokens computed this step, from seq->n_computed
  bool fill_cross;   // the step must compute this sequence's cross K/V from its encoder memory
};

struct StepPlan {
  std::vector<ScheduledChunk> chunks;
  // Sequences that can never run (their KV cache would not fit even alone); the engine fails them.
  std::vector<std::unique_ptr<Sequence>> rejected;
};

struct SchedulerCounters {
  int64_t prefix_query_tokens = 0, prefix_hit_tokens = 0;
  int64_t cross_hits = 0, cross_fills = 0;
  int64_t preempted = 0;
};

class Scheduler {
 public:
  // cross_pool is NULL for decoder-only models. The pools must outlive the scheduler.
  Scheduler(SchedulerConfig config, BlockPool& pool, BlockPool* cross_pool);

  void enqueue(std::unique_ptr<Sequence> seq);
  StepPlan plan();
  // After the plan ran: advances each chunk's sequence, publishes its full blocks and filled cross blocks.
  void complete(const StepPlan& plan);
  // Takes a sequence out of the running or waiting queue and releases its blocks.
  std::unique_ptr<Sequence> remove(Sequence* seq);
  // Removes every sequence matching pred (cancelled ones, or all at shutdown), in queue order.
  template <typename Pred>
  std::vector<std::unique_ptr<Sequence>> remove_if(Pred pred);

  bool empty() const { return running_.empty() && waiting_.empty(); }
  int64_t n_waiting() const { return int64_t(waiting_.size()); }
  int64_t n_running() const { return int64_t(running_.size()); }
  const SchedulerCounters& counters() const { return counters_; }

  // Hash of block `index` of seq's decoder tokens, chained from `parent`.
  BlockHash block_hash(const Sequence& seq, int64_t index, const BlockHash& parent) const;
  // Hash of an encoder input: its ids, and at item positions the item's content hash.
  static BlockHash encoder_hash(const Sequence& seq);

 private:
  bool reserve_blocks(Sequence& seq, int64_t n_tokens);
  bool admit(Sequence& seq);
  void preempt(Sequence& seq);
  void release(Sequence& seq);
  void publish_full_blocks(Sequence& seq);

  SchedulerConfig config_;
  BlockPool& pool_;
  BlockPool* cross_pool_;
  std::list<std::unique_ptr<Sequence>> waiting_, running_;
  SchedulerCounters counters_;
};

template <typename Pred>
std::vector<std::unique_ptr<Sequence>> Scheduler::remove_if(Pred pred) {
  std::vector<std::unique_ptr<Sequence>> out;
  for (auto* list : {&running_, &waiting_}) {
    for (auto it = list->begin(); it != list->end();) {
      if (pred(**it)) {
        release(**it);
        out.push_back(std::move(*it));
        it = list->erase(it);
      } else {
        ++it;
      }
    }
  }
  return out;
}

}  // namespace mmrt::engine
