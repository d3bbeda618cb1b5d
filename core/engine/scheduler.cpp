#include "core/engine/scheduler.hpp"

#include <algorithm>
#include <cstring>
#include <span>

#include "core/plugin/sha256.hpp"

namespace mmrt::engine {
namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

BlockHash digest_of(plugin::Sha256& h) {
  const auto digest = h.digest();
  BlockHash out;
  std::memcpy(out.data(), digest.data(), sizeof(out));
  return out;
}

// A placeholder position stands for its image: the item's content hash and the offset inside it.
void hash_position(plugin::Sha256& h, const std::vector<int32_t>& ids,
                   const std::vector<PlaceholderRange>& ranges,
                   const std::vector<std::shared_ptr<const ProcessedItem>>& items, int64_t p) {
  const PlaceholderRange* in_range = nullptr;
  for (const auto& r : ranges) {
    if (p >= r.offset && p < r.offset + r.length) in_range = &r;
  }
  if (in_range) {
    const uint8_t tag = 1;
    const int64_t offset = p - in_range->offset;
    h.update(std::as_bytes(std::span(&tag, 1)));
    h.update(std::as_bytes(std::span(items[size_t(in_range->item)]->content_hash)));
    h.update(std::as_bytes(std::span(&offset, 1)));
  } else {
    const uint8_t tag = 0;
    h.update(std::as_bytes(std::span(&tag, 1)));
    h.update(std::as_bytes(std::span(&ids[size_t(p)], 1)));
  }
}

BlockHash cross_block_hash(const BlockHash& root, int64_t index) {
  plugin::Sha256 h;
  const uint8_t tag = 2;
  h.update(std::as_bytes(std::span(&tag, 1)));
  h.update(std::as_bytes(std::span(root)));
  h.update(std::as_bytes(std::span(&index, 1)));
  return digest_of(h);
}

}  // namespace

Scheduler::Scheduler(SchedulerConfig config, BlockPool& pool, BlockPool* cross_pool)
    : config_(config), pool_(pool), cross_pool_(cross_pool) {}

void Scheduler::enqueue(std::unique_ptr<Sequence> seq) {
  if (seq->encoder) seq->encoder->root = encoder_hash(*seq);
  waiting_.push_back(std::move(seq));
}

BlockHash Scheduler::encoder_hash(const Sequence& seq) {
  plugin::Sha256 h;
  const TokenRuns& input = seq.encoder->input;
  const int64_t n = int64_t(input.ids.size());
  h.update(std::as_bytes(std::span(&n, 1)));
  for (int64_t p = 0; p < n; ++p) hash_position(h, input.ids, input.ranges, seq.items, p);
  return digest_of(h);
}

BlockHash Scheduler::block_hash(const Sequence& seq, int64_t index, const BlockHash& parent) const {
  plugin::Sha256 h;
  h.update(std::as_bytes(std::span(parent)));
  const int64_t begin = index * config_.block_size;
  for (int64_t p = begin; p < begin + config_.block_size; ++p)
    hash_position(h, seq.tokens, seq.ranges, seq.items, p);
  return digest_of(h);
}

bool Scheduler::reserve_blocks(Sequence& seq, int64_t n_tokens) {
  const int64_t needed = ceil_div(seq.n_computed + n_tokens, config_.block_size);
  while (int64_t(seq.blocks.size()) < needed) {
    auto block = pool_.allocate();
    if (!block) return false;
    seq.blocks.push_back(*block);
  }
  return true;
}

bool Scheduler::admit(Sequence& seq) {
  if (seq.encoder && seq.encoder->cross_blocks.empty()) {
    Sequence::EncoderSide& enc = *seq.encoder;
    const int64_t n_cross = ceil_div(enc.length(), config_.block_size);
    // All cross blocks come from the cache, or none: a partial memory is of no use.
    if (config_.prefix_caching) {
      for (int64_t i = 0; i < n_cross; ++i) {
        auto block = cross_pool_->take_cached(cross_block_hash(enc.root, i));
        if (!block) break;
        enc.cross_blocks.push_back(*block);
      }
      if (int64_t(enc.cross_blocks.size()) == n_cross) {
        enc.cross_ready = true;
        ++counters_.cross_hits;
      } else {
        for (int32_t b : enc.cross_blocks) cross_pool_->release(b);
        enc.cross_blocks.clear();
      }
    }
    while (int64_t(enc.cross_blocks.size()) < n_cross) {
      auto block = cross_pool_->allocate();
      if (!block) {
        for (int32_t b : enc.cross_blocks) cross_pool_->release(b);
        enc.cross_blocks.clear();
        return false;
      }
      enc.cross_blocks.push_back(*block);
    }
  }
  seq.admitted = true;
  if (!config_.prefix_caching) return true;
  // Reuse full blocks, but always leave at least one prompt token to compute: its logits start decoding.
  const int64_t max_blocks = (seq.prompt_len - 1) / config_.block_size;
  BlockHash parent = seq.hash_root();
  for (int64_t b = 0; b < max_blocks; ++b) {
    const BlockHash h = block_hash(seq, b, parent);
    auto block = pool_.take_cached(h);
    if (!block) break;
    seq.blocks.push_back(*block);
    seq.block_hashes.push_back(h);
    parent = h;
  }
  seq.n_computed = int64_t(seq.blocks.size()) * config_.block_size;
  seq.n_cached = seq.n_computed;
  counters_.prefix_query_tokens += seq.prompt_len;
  counters_.prefix_hit_tokens += seq.n_cached;
  return true;
}

void Scheduler::release(Sequence& seq) {
  for (int32_t b : seq.blocks) pool_.release(b);
  seq.blocks.clear();
  seq.block_hashes.clear();
  if (seq.encoder) {
    for (int32_t b : seq.encoder->cross_blocks) cross_pool_->release(b);
    seq.encoder->cross_blocks.clear();
    seq.encoder->cross_ready = false;
  }
  seq.n_computed = 0;
  seq.admitted = false;
}

// Recompute preemption: every block goes back (filled cross blocks stay cached under their hashes, so
// re-admission usually takes them back without running the encoder again).
void Scheduler::preempt(Sequence& seq) {
  release(seq);
  ++counters_.preempted;
}

StepPlan Scheduler::plan() {
  StepPlan plan;
  int64_t budget = config_.max_batched_tokens;
  const auto chunk_for = [](Sequence& seq, int64_t n) {
    return ScheduledChunk{&seq, n, seq.encoder.has_value() && !seq.encoder->cross_ready};
  };

  for (auto it = running_.begin(); it != running_.end() && budget > 0;) {
    Sequence& seq = **it;
    const int64_t n = std::min<int64_t>(int64_t(seq.tokens.size()) - seq.n_computed, budget);
    bool placed = reserve_blocks(seq, n);
    // Out of blocks: recompute-preempt the newest running request until this one fits.
    while (!placed && running_.back().get() != &seq) {
      auto victim = std::move(running_.back());
      running_.pop_back();
      preempt(*victim);
      waiting_.push_front(std::move(victim));
      placed = reserve_blocks(seq, n);
    }
    if (!placed) {
      auto self = std::move(*it);
      it = running_.erase(it);
      preempt(*self);
      waiting_.push_front(std::move(self));
      continue;
    }
    plan.chunks.push_back(chunk_for(seq, n));
    budget -= n;
    ++it;
  }

  while (!waiting_.empty() && budget > 0 && int64_t(running_.size()) < config_.max_num_seqs) {
    Sequence& seq = *waiting_.front();
    const bool alone = running_.empty() && plan.chunks.empty();
    bool fits = seq.admitted || admit(seq);
    const int64_t n = std::min<int64_t>(int64_t(seq.tokens.size()) - seq.n_computed, budget);
    fits = fits && reserve_blocks(seq, n);
    if (!fits) {
      release(seq);
      // Nothing else holds blocks, so waiting would not help: this request can never fit.
      if (alone) {
        plan.rejected.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
        continue;
      }
      break;
    }
    plan.chunks.push_back(chunk_for(seq, n));
    budget -= n;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  return plan;
}

void Scheduler::complete(const StepPlan& plan) {
  for (const ScheduledChunk& c : plan.chunks) {
    Sequence& seq = *c.seq;
    seq.n_computed += c.n_tokens;
    publish_full_blocks(seq);
    if (c.fill_cross) {
      Sequence::EncoderSide& enc = *seq.encoder;
      enc.cross_ready = true;
      ++counters_.cross_fills;
      if (config_.prefix_caching) {
        for (size_t i = 0; i < enc.cross_blocks.size(); ++i)
          cross_pool_->publish(enc.cross_blocks[i], cross_block_hash(enc.root, int64_t(i)));
      }
    }
  }
}

void Scheduler::publish_full_blocks(Sequence& seq) {
  if (!config_.prefix_caching) return;
  while (int64_t(seq.block_hashes.size() + 1) * config_.block_size <= seq.n_computed) {
    const int64_t b = int64_t(seq.block_hashes.size());
    const BlockHash parent = b == 0 ? seq.hash_root() : seq.block_hashes.back();
    const BlockHash h = block_hash(seq, b, parent);
    pool_.publish(seq.blocks[size_t(b)], h);
    seq.block_hashes.push_back(h);
  }
}

std::unique_ptr<Sequence> Scheduler::remove(Sequence* seq) {
  auto out = remove_if([seq](const Sequence& s) { return &s == seq; });
  return out.empty() ? nullptr : std::move(out.front());
}

}  // namespace mmrt::engine
