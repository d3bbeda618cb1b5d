#include "core/engine/engine.hpp"

#include <algorithm>
#include <span>

#include "core/text/tokenizer.hpp"

namespace mmrt::engine {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::none:
      return "none";
    case FinishReason::stop:
      return "stop";
    case FinishReason::length:
      return "length";
    case FinishReason::abort:
      return "abort";
    case FinishReason::error:
      return "error";
  }
  return "none";
}

namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Blocks of the self-attention cache (and, for encoder-decoder models, of the cross cache) that
// config.kv_cache_bytes buys, unless config.n_blocks fixes the self count.
struct CacheSizes {
  int64_t self_blocks = 0, cross_blocks = 0;
};

CacheSizes cache_sizes(const Model& model, const EngineConfig& config) {
  const MmrtKvSpec& s = model.kv_spec();
  if (config.block_size <= 0) throw EngineError(EngineError::Kind::invalid, "block_size must be > 0");
  const int64_t elem = int64_t(backend::dtype_size(s.dtype));
  const int64_t self_bytes = int64_t(2) * s.n_layer * config.block_size * s.n_head_kv * s.head_dim * elem;
  CacheSizes out;
  int64_t budget = config.kv_cache_bytes;
  if (model.is_encoder_decoder()) {
    const int64_t cross_bytes =
        int64_t(2) * s.n_cross_layer * config.block_size * s.cross_n_head_kv * s.cross_head_dim * elem;
    const int64_t cross_budget = int64_t(double(budget) * config.cross_cache_fraction);
    out.cross_blocks = std::max<int64_t>(1, cross_budget / std::max<int64_t>(cross_bytes, 1));
    budget -= cross_budget;
  }
  out.self_blocks =
      config.n_blocks > 0 ? config.n_blocks : std::max<int64_t>(1, budget / std::max<int64_t>(self_bytes, 1));
  return out;
}

SchedulerConfig scheduler_config(const EngineConfig& c, int64_t max_blocks, int64_t max_cross_blocks) {
  SchedulerConfig out;
  out.block_size = c.block_size;
  out.max_num_seqs = c.max_num_seqs;
  out.max_batched_tokens = c.max_batched_tokens;
  out.prefix_caching = c.prefix_caching;
  out.max_blocks_per_seq = max_blocks;
  out.max_cross_blocks_per_seq = max_cross_blocks;
  return out;
}

RunnerConfig runner_config(const EngineConfig& c, int64_t n_blocks, int64_t n_cross_blocks,
                           int64_t max_blocks, int64_t max_cross_blocks) {
  RunnerConfig out;
  out.block_size = c.block_size;
  out.n_blocks = n_blocks;
  out.n_cross_blocks = n_cross_blocks;
  out.max_blocks_per_seq = max_blocks;
  out.max_cross_blocks_per_seq = max_cross_blocks;
  out.max_num_seqs = c.max_num_seqs;
  out.encoder_cache_items = c.encoder_cache_items;
  return out;
}

}  // namespace

Engine::Engine(Model& model, EngineConfig config)
    : model_(model),
      config_(config),
      spec_(model.kv_spec()),
      pool_([&] {
        const CacheSizes sizes = cache_sizes(model, config);
        config_.n_blocks = sizes.self_blocks;
        n_cross_blocks_ = sizes.cross_blocks;
        max_blocks_per_seq_ = std::min(
            ceil_div(spec_.max_position > 0 ? spec_.max_position : sizes.self_blocks * config.block_size,
                     config.block_size),
            sizes.self_blocks);
        if (n_cross_blocks_ > 0)
          max_cross_blocks_per_seq_ =
              std::min(ceil_div(spec_.max_encoder_len, config.block_size), n_cross_blocks_);
        return sizes.self_blocks;
      }()),
      cross_pool_(n_cross_blocks_ > 0 ? std::make_unique<BlockPool>(n_cross_blocks_) : nullptr),
      scheduler_(scheduler_config(config_, max_blocks_per_seq_, max_cross_blocks_per_seq_), pool_,
                 cross_pool_.get()),
      runner_(model, runner_config(config_, pool_.n_blocks(), cross_pool_ ? cross_pool_->n_blocks() : 0,
                                   max_blocks_per_seq_, max_cross_blocks_per_seq_)),
      output_(model.tokenizer(), model.eos_token_ids()) {
  stats_.kv_blocks_total = pool_.n_blocks();
  stats_.cross_blocks_total = cross_pool_ ? cross_pool_->n_blocks() : 0;
}

Engine::~Engine() {
  stop(false);
}

void Engine::submit(RequestInput input, EventCallback on_event) {
  const PaddedPrompt& prompt = input.prompt;
  const bool enc_dec = model_.is_encoder_decoder();
  if (enc_dec != prompt.encoder.has_value()) {
    throw EngineError(EngineError::Kind::invalid, enc_dec ? "an encoder-decoder model needs an encoder input"
                                                          : "a decoder-only model takes no encoder input");
  }
  const int64_t n_prompt = int64_t(prompt.ids.size()) + (enc_dec ? 1 : 0);
  if (n_prompt == 0) throw EngineError(EngineError::Kind::invalid, "the prompt is empty");
  try {
    input.params.validate(spec_.vocab_size);
  } catch (const std::invalid_argument& e) {
    throw EngineError(EngineError::Kind::invalid, e.what());
  }
  const int64_t total = n_prompt + input.params.max_tokens;
  if (spec_.max_position > 0 && total > spec_.max_position) {
    throw EngineError(EngineError::Kind::too_long,
                      "prompt (" + std::to_string(n_prompt) + " tokens) plus max_tokens (" +
                          std::to_string(input.params.max_tokens) + ") exceeds the model's context of " +
                          std::to_string(spec_.max_position) + " tokens");
  }
  if (ceil_div(total, config_.block_size) > max_blocks_per_seq_) {
    throw EngineError(EngineError::Kind::too_long,
                      "prompt plus max_tokens needs " + std::to_string(total) +
                          " tokens of KV cache but only " +
                          std::to_string(max_blocks_per_seq_ * config_.block_size) + " exist");
  }
  const auto check_runs = [&](const std::vector<int32_t>& ids, const std::vector<PlaceholderRange>& ranges) {
    for (const auto& r : ranges) {
      if (r.item < 0 || r.item >= int64_t(input.items.size()) || r.offset < 0 || r.length < 0 ||
          r.offset + r.length > int64_t(ids.size()) || r.length != input.items[size_t(r.item)]->n_tokens) {
        throw EngineError(EngineError::Kind::invalid,
                          "placeholder ranges do not match the prompt and its images");
      }
    }
    for (int32_t id : ids) {
      if (id < 0 || id >= spec_.vocab_size) {
        throw EngineError(EngineError::Kind::invalid,
                          "token id " + std::to_string(id) + " is outside the vocabulary");
      }
    }
  };
  check_runs(prompt.ids, prompt.ranges);
  if (enc_dec) {
    const int64_t enc_len = int64_t(prompt.encoder->ids.size());
    if (enc_len == 0) throw EngineError(EngineError::Kind::invalid, "the encoder input is empty");
    if (enc_len > spec_.max_encoder_len ||
        ceil_div(enc_len, config_.block_size) > max_cross_blocks_per_seq_) {
      throw EngineError(EngineError::Kind::too_long,
                        "the encoder input (" + std::to_string(enc_len) +
                            " tokens) is longer than the model or its cross cache takes");
    }
    check_runs(prompt.encoder->ids, prompt.encoder->ranges);
  }
  auto seq = std::make_unique<Sequence>(std::move(input), std::move(on_event), spec_.decoder_start_token_id);
  output_.start(*seq);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw EngineError(EngineError::Kind::shutting_down, "the server is shutting down");
    if (queued_ >= config_.max_queue) {
      throw EngineError(EngineError::Kind::overloaded, "the request queue is full; retry later");
    }
    ++queued_;
    submitted_.push_back(std::move(seq));
  }
  wake_.notify_one();
}

void Engine::cancel(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    cancelled_.push_back(id);
  }
  wake_.notify_one();
}

EngineStats Engine::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Engine::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void Engine::stop(bool drain) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    draining_ = drain;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Engine::loop() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock,
                 [&] { return stopping_ || !submitted_.empty() || !cancelled_.empty() || queued_ > 0; });
      if (stopping_ && !draining_) break;
      if (stopping_ && queued_ == 0) break;
    }
    step();
  }
  // Abort whatever is left so every caller sees its final event.
  take_submissions();
  for (auto& seq : scheduler_.remove_if([](const Sequence&) { return true; }))
    end(std::move(seq), FinishReason::abort, "the server is shutting down");
}

void Engine::take_submissions() {
  std::vector<std::string> cancelled;
  {
    std::lock_guard lock(mutex_);
    while (!submitted_.empty()) {
      by_id_[submitted_.front()->id] = submitted_.front().get();
      scheduler_.enqueue(std::move(submitted_.front()));
      submitted_.pop_front();
    }
    cancelled.swap(cancelled_);
  }
  for (const auto& id : cancelled) {
    if (auto it = by_id_.find(id); it != by_id_.end()) it->second->cancelled = true;
  }
  for (auto& seq : scheduler_.remove_if([](const Sequence& s) { return s.cancelled; }))
    end(std::move(seq), FinishReason::abort);
}

bool Engine::step() {
  take_submissions();
  StepPlan plan = scheduler_.plan();
  for (auto& seq : plan.rejected)
    end(std::move(seq), FinishReason::error, "the KV cache cannot hold this request");
  if (!plan.chunks.empty()) {
    try {
      runner_.run(plan);
      scheduler_.complete(plan);
      sample(plan);
    } catch (const std::exception& e) {
      // A failed step (bad plugin answer, out of memory) ends the requests of this batch with an error;
      // the engine and every other request carry on.
      fail_batch(plan, e.what());
    }
  }
  publish_stats();
  std::lock_guard lock(mutex_);
  return !scheduler_.empty() || !submitted_.empty();
}

void Engine::sample(const StepPlan& plan) {
  const auto now = Clock::now();
  int64_t logit_index = 0;
  std::vector<std::pair<Sequence*, FinishReason>> done;
  for (const ScheduledChunk& c : plan.chunks) {
    Sequence& seq = *c.seq;
    if (seq.n_computed != int64_t(seq.tokens.size())) continue;
    const std::span<const int32_t> ids(seq.tokens);
    const Sample s =
        seq.sampler.sample(runner_.logits(logit_index++), spec_.vocab_size, ids.first(size_t(seq.prompt_len)),
                           ids.subspan(size_t(seq.prompt_len)));
    if (seq.n_generated == 0) seq.first_token = now;
    seq.last_token = now;
    RequestEvent event;
    const FinishReason reason = output_.append(seq, s, event);
    {
      std::lock_guard lock(mutex_);
      ++stats_.generated_tokens;
      if (seq.n_generated == 1) stats_.prompt_tokens += seq.prompt_len;
    }
    if (reason == FinishReason::none) {
      seq.on_event(event);
    } else {
      end(seq, reason, event);
      done.emplace_back(&seq, reason);
    }
  }
  for (const auto& [seq, reason] : done) scheduler_.remove(seq);
}

void Engine::fail_batch(const StepPlan& plan, const std::string& error) {
  for (const ScheduledChunk& c : plan.chunks) c.seq->cancelled = true;
  for (auto& seq : scheduler_.remove_if([](const Sequence& s) { return s.cancelled; }))
    end(std::move(seq), FinishReason::error, error);
}

void Engine::end(std::unique_ptr<Sequence> seq, FinishReason reason, std::string error) {
  RequestEvent event;
  end(*seq, reason, event, std::move(error));
}

void Engine::end(Sequence& seq, FinishReason reason, RequestEvent& event, std::string error) {
  output_.finish(seq, reason, event, std::move(error));
  by_id_.erase(seq.id);
  {
    std::lock_guard lock(mutex_);
    --queued_;
    ++stats_.finished;
    if (reason == FinishReason::abort) ++stats_.aborted;
    if (reason == FinishReason::error) ++stats_.failed;
  }
  seq.on_event(event);
}

void Engine::publish_stats() {
  const SchedulerCounters& s = scheduler_.counters();
  const RunnerCounters& r = runner_.counters();
  std::lock_guard lock(mutex_);
  ++stats_.steps;
  stats_.waiting = scheduler_.n_waiting() + int64_t(submitted_.size());
  stats_.running = scheduler_.n_running();
  stats_.kv_blocks_held = pool_.n_held();
  stats_.cross_blocks_held = cross_pool_ ? cross_pool_->n_held() : 0;
  stats_.prefix_query_tokens = s.prefix_query_tokens;
  stats_.prefix_hit_tokens = s.prefix_hit_tokens;
  stats_.preempted = s.preempted;
  stats_.cross_cache_hits = s.cross_hits;
  stats_.cross_fills = s.cross_fills;
  stats_.encoder_cache_hits = r.encoder_cache_hits;
  stats_.encoder_runs = r.encoder_runs;
}

}  // namespace mmrt::engine
