#include "core/engine/engine.hpp"

#include <algorithm>
#include <cstring>
#include <span>

#include "core/backend/tensor.hpp"
#include "core/plugin/sha256.hpp"
#include "core/text/tokenizer.hpp"

namespace mmrt::engine {

using Clock = std::chrono::steady_clock;

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

struct Engine::Sequence {
  std::string id;
  std::vector<int32_t> tokens;  // prompt, then generated
  int64_t prompt_len = 0;
  std::vector<PlaceholderRange> ranges;
  std::vector<int32_t> positions3;
  int64_t next_position_delta = 0;
  std::vector<std::shared_ptr<const ProcessedItem>> items;
  std::vector<std::shared_ptr<backend::Tensor>> item_embeds;  // filled when a chunk first needs the item
  SamplingParams params;
  Sampler sampler;
  EventCallback on_event;

  std::vector<int32_t> blocks;
  std::vector<BlockHash> block_hashes;  // hashes of the leading full blocks, in order
  int64_t n_computed = 0;               // tokens whose K/V are in the cache
  int64_t n_cached = 0;                 // of those, taken from the prefix cache
  bool admitted = false;

  std::unique_ptr<text::StreamingDetokenizer> detokenizer;
  std::string text;    // everything decoded so far (stop strings cut it)
  size_t emitted = 0;  // bytes of text already sent
  int64_t n_generated = 0;
  bool cancelled = false;

  Clock::time_point arrival, first_token, last_token;

  Sequence(RequestInput in, EventCallback cb)
      : id(std::move(in.id)),
        tokens(std::move(in.prompt.ids)),
        ranges(std::move(in.prompt.ranges)),
        positions3(std::move(in.prompt.positions3)),
        next_position_delta(in.prompt.next_position_delta),
        items(std::move(in.items)),
        params(std::move(in.params)),
        sampler(params),
        on_event(std::move(cb)),
        arrival(Clock::now()) {
    prompt_len = int64_t(tokens.size());
    item_embeds.resize(items.size());
  }
};

namespace {

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

Engine::Engine(Model& model, EngineConfig config)
    : model_(model), config_(config), spec_(model.kv_spec()), pool_([&] {
        const MmrtKvSpec& s = model.kv_spec();
        if (config.block_size <= 0) throw EngineError(EngineError::Kind::invalid, "block_size must be > 0");
        if (config.n_blocks > 0) return config.n_blocks;
        const int64_t block_bytes = int64_t(2) * s.n_layer * config.block_size * s.n_head_kv * s.head_dim *
                                    int64_t(backend::dtype_size(s.dtype));
        return std::max<int64_t>(1, config.kv_cache_bytes / std::max<int64_t>(block_bytes, 1));
      }()) {
  n_blocks_ = pool_.n_blocks();
  config_.n_blocks = n_blocks_;
  max_blocks_per_seq_ = ceil_div(spec_.max_position > 0 ? spec_.max_position : n_blocks_ * config_.block_size,
                                 config_.block_size);
  max_blocks_per_seq_ = std::min(max_blocks_per_seq_, n_blocks_);
  const std::vector<int64_t> shape = {n_blocks_, config_.block_size, spec_.n_head_kv, spec_.head_dim};
  for (int32_t il = 0; il < spec_.n_layer; ++il) {
    k_cache_.emplace_back(model.device(), spec_.dtype, shape);
    v_cache_.emplace_back(model.device(), spec_.dtype, shape);
  }
  for (int32_t il = 0; il < spec_.n_layer; ++il)
    kv_layers_.push_back({k_cache_[il].get(), v_cache_[il].get()});
  stats_.kv_blocks_total = n_blocks_;
}

Engine::~Engine() {
  stop(false);
}

void Engine::submit(RequestInput input, EventCallback on_event) {
  const int64_t n_prompt = int64_t(input.prompt.ids.size());
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
  if (ceil_div(total, config_.block_size) > std::min(n_blocks_, max_blocks_per_seq_)) {
    throw EngineError(
        EngineError::Kind::too_long,
        "prompt plus max_tokens needs " + std::to_string(total) + " tokens of KV cache but only " +
            std::to_string(std::min(n_blocks_, max_blocks_per_seq_) * config_.block_size) + " exist");
  }
  for (const auto& r : input.prompt.ranges) {
    if (r.item < 0 || r.item >= int64_t(input.items.size()) || r.offset < 0 || r.length < 0 ||
        r.offset + r.length > n_prompt || r.length != input.items[size_t(r.item)]->n_tokens) {
      throw EngineError(EngineError::Kind::invalid,
                        "placeholder ranges do not match the prompt and its images");
    }
  }
  for (int32_t id : input.prompt.ids) {
    if (id < 0 || id >= spec_.vocab_size) {
      throw EngineError(EngineError::Kind::invalid,
                        "token id " + std::to_string(id) + " is outside the vocabulary");
    }
  }
  auto seq = std::make_unique<Sequence>(std::move(input), std::move(on_event));
  seq->detokenizer = std::make_unique<text::StreamingDetokenizer>(model_.tokenizer(), true);
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
  for (auto* list : {&running_, &waiting_}) {
    for (auto& seq : *list) {
      RequestEvent event;
      finish(*seq, FinishReason::abort, event, "the server is shutting down");
    }
    list->clear();
  }
}

void Engine::take_submissions() {
  std::vector<std::string> cancelled;
  {
    std::lock_guard lock(mutex_);
    while (!submitted_.empty()) {
      Sequence* s = submitted_.front().get();
      by_id_[s->id] = s;
      waiting_.push_back(std::move(submitted_.front()));
      submitted_.pop_front();
    }
    cancelled.swap(cancelled_);
  }
  for (const auto& id : cancelled) {
    if (auto it = by_id_.find(id); it != by_id_.end()) it->second->cancelled = true;
  }
  for (auto* list : {&running_, &waiting_}) {
    for (auto it = list->begin(); it != list->end();) {
      if ((*it)->cancelled) {
        RequestEvent event;
        finish(**it, FinishReason::abort, event);
        it = list->erase(it);
      } else {
        ++it;
      }
    }
  }
}

bool Engine::step() {
  take_submissions();
  std::vector<ScheduledChunk> chunks = schedule();
  if (!chunks.empty()) {
    try {
      ensure_encoded(chunks);
      run_batch(chunks);
    } catch (const std::exception& e) {
      // A failed forward (bad plugin answer, out of memory) ends the requests of this batch with an
      // error; the engine and every other request carry on.
      for (const auto& c : chunks) c.seq->cancelled = true;
      for (auto it = running_.begin(); it != running_.end();) {
        if ((*it)->cancelled) {
          RequestEvent event;
          finish(**it, FinishReason::error, event, e.what());
          it = running_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  std::lock_guard lock(mutex_);
  ++stats_.steps;
  stats_.waiting = int64_t(waiting_.size() + submitted_.size());
  stats_.running = int64_t(running_.size());
  stats_.kv_blocks_held = pool_.n_held();
  return !running_.empty() || !waiting_.empty() || !submitted_.empty();
}

bool Engine::reserve_blocks(Sequence& seq, int64_t n_tokens) {
  const int64_t needed = ceil_div(seq.n_computed + n_tokens, config_.block_size);
  while (int64_t(seq.blocks.size()) < needed) {
    auto block = pool_.allocate();
    if (!block) return false;
    seq.blocks.push_back(*block);
  }
  return true;
}

void Engine::admit_prefix(Sequence& seq) {
  seq.admitted = true;
  if (!config_.prefix_caching) return;
  // Reuse full blocks, but always leave at least one prompt token to compute: its logits start decoding.
  const int64_t max_blocks = (seq.prompt_len - 1) / config_.block_size;
  BlockHash parent{};
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
  std::lock_guard lock(mutex_);
  stats_.prefix_query_tokens += seq.prompt_len;
  stats_.prefix_hit_tokens += seq.n_cached;
}

void Engine::preempt(Sequence& seq) {
  release(seq);
  seq.n_computed = 0;
  seq.admitted = false;
  std::lock_guard lock(mutex_);
  ++stats_.preempted;
}

std::vector<Engine::ScheduledChunk> Engine::schedule() {
  std::vector<ScheduledChunk> chunks;
  int64_t budget = config_.max_batched_tokens;

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
    chunks.push_back({&seq, n});
    budget -= n;
    ++it;
  }

  while (!waiting_.empty() && budget > 0 && int64_t(running_.size()) < config_.max_num_seqs) {
    Sequence& seq = *waiting_.front();
    if (!seq.admitted) admit_prefix(seq);
    const int64_t n = std::min<int64_t>(int64_t(seq.tokens.size()) - seq.n_computed, budget);
    if (!reserve_blocks(seq, n)) {
      // Wait for running requests to free blocks; keep what the prefix cache gave only if someone runs.
      if (running_.empty() && chunks.empty()) {
        RequestEvent event;
        finish(seq, FinishReason::error, event, "the KV cache cannot hold this request");
        waiting_.pop_front();
        continue;
      }
      release(seq);
      seq.n_computed = 0;
      seq.admitted = false;
      break;
    }
    chunks.push_back({&seq, n});
    budget -= n;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  return chunks;
}

void Engine::ensure_encoded(const std::vector<ScheduledChunk>& chunks) {
  std::vector<const ProcessedItem*> to_encode;
  std::vector<std::pair<Sequence*, size_t>> owners;
  for (const auto& c : chunks) {
    Sequence& seq = *c.seq;
    const int64_t begin = seq.n_computed, end = seq.n_computed + c.n_tokens;
    for (const auto& r : seq.ranges) {
      if (r.offset >= end || r.offset + r.length <= begin || seq.item_embeds[size_t(r.item)]) continue;
      const ProcessedItem& item = *seq.items[size_t(r.item)];
      if (auto hit = encoder_cache_.find(item.content_hash); hit != encoder_cache_.end()) {
        hit->second.last_use = ++use_clock_;
        seq.item_embeds[size_t(r.item)] = hit->second.embeds;
        std::lock_guard lock(mutex_);
        ++stats_.encoder_cache_hits;
        continue;
      }
      to_encode.push_back(&item);
      owners.emplace_back(&seq, size_t(r.item));
    }
  }
  if (to_encode.empty()) return;
  backend::Tensor all = model_.encode(to_encode);
  const int64_t dim = model_.embed_dim();
  const size_t row_bytes = size_t(dim) * backend::dtype_size(all.view().dtype);
  int64_t row = 0;
  for (size_t i = 0; i < to_encode.size(); ++i) {
    const ProcessedItem& item = *to_encode[i];
    auto embeds = std::make_shared<backend::Tensor>(MmrtDevice{MMRT_DEVICE_CPU, 0}, all.view().dtype,
                                                    std::vector<int64_t>{item.n_tokens, dim});
    std::memcpy(embeds->data(), static_cast<char*>(all.data()) + size_t(row) * row_bytes,
                size_t(item.n_tokens) * row_bytes);
    row += item.n_tokens;
    owners[i].first->item_embeds[owners[i].second] = embeds;
    encoder_cache_[item.content_hash] = {embeds, ++use_clock_};
  }
  while (int64_t(encoder_cache_.size()) > config_.encoder_cache_items) {
    auto oldest =
        std::min_element(encoder_cache_.begin(), encoder_cache_.end(),
                         [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; });
    encoder_cache_.erase(oldest);
  }
  std::lock_guard lock(mutex_);
  stats_.encoder_runs += int64_t(to_encode.size());
}

void Engine::run_batch(const std::vector<ScheduledChunk>& chunks) {
  const MmrtDevice cpu{MMRT_DEVICE_CPU, 0};
  int64_t n_tokens = 0;
  for (const auto& c : chunks) n_tokens += c.n_tokens;
  const int32_t n_seqs = int32_t(chunks.size());
  const int64_t axes = spec_.position_axes == 3 ? 3 : 1;

  backend::Tensor ids(cpu, backend::kI32, {n_tokens});
  backend::Tensor positions(cpu, backend::kI32,
                            axes == 3 ? std::vector<int64_t>{3, n_tokens} : std::vector<int64_t>{n_tokens});
  backend::Tensor query_start(cpu, backend::kI32, {n_seqs + 1});
  backend::Tensor seq_lens(cpu, backend::kI32, {n_seqs});
  backend::Tensor block_tables(cpu, backend::kI32, {n_seqs, max_blocks_per_seq_});
  backend::Tensor slots(cpu, backend::kI64, {n_tokens});
  std::vector<int32_t> embed_rows, logit_rows;
  std::vector<std::pair<const backend::Tensor*, int64_t>> embed_sources;  // item embeds, row

  auto* ids_p = ids.data_as<int32_t>();
  auto* pos_p = positions.data_as<int32_t>();
  auto* qs_p = query_start.data_as<int32_t>();
  auto* len_p = seq_lens.data_as<int32_t>();
  auto* bt_p = block_tables.data_as<int32_t>();
  auto* slot_p = slots.data_as<int64_t>();
  std::fill(bt_p, bt_p + n_seqs * max_blocks_per_seq_, 0);

  int64_t row = 0;
  for (int32_t s = 0; s < n_seqs; ++s) {
    Sequence& seq = *chunks[size_t(s)].seq;
    const int64_t begin = seq.n_computed, n = chunks[size_t(s)].n_tokens;
    qs_p[s] = int32_t(row);
    len_p[s] = int32_t(begin + n);
    std::copy(seq.blocks.begin(), seq.blocks.end(), bt_p + s * max_blocks_per_seq_);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t p = begin + i;
      ids_p[row + i] = seq.tokens[size_t(p)];
      slot_p[row + i] =
          int64_t(seq.blocks[size_t(p / config_.block_size)]) * config_.block_size + p % config_.block_size;
      if (axes == 3) {
        for (int64_t a = 0; a < 3; ++a) {
          pos_p[a * n_tokens + row + i] = p < int64_t(seq.positions3.size() / 3)
                                              ? seq.positions3[size_t(a * seq.prompt_len + p)]
                                              : int32_t(p + seq.next_position_delta);
        }
      } else {
        pos_p[row + i] = int32_t(p);
      }
    }
    for (const auto& r : seq.ranges) {
      const int64_t lo = std::max(begin, r.offset), hi = std::min(begin + n, r.offset + r.length);
      for (int64_t p = lo; p < hi; ++p) {
        embed_rows.push_back(int32_t(row + p - begin));
        embed_sources.emplace_back(seq.item_embeds[size_t(r.item)].get(), p - r.offset);
      }
    }
    if (begin + n == int64_t(seq.tokens.size())) logit_rows.push_back(int32_t(row + n - 1));
    row += n;
  }
  qs_p[n_seqs] = int32_t(row);

  const int64_t dim = model_.embed_dim();
  backend::Tensor embeds, embeds_rows;
  if (!embed_rows.empty()) {
    const MmrtDataType dt = embed_sources[0].first->view().dtype;
    const size_t row_bytes = size_t(dim) * backend::dtype_size(dt);
    embeds = backend::Tensor(cpu, dt, {int64_t(embed_rows.size()), dim});
    for (size_t i = 0; i < embed_rows.size(); ++i) {
      std::memcpy(static_cast<char*>(embeds.data()) + i * row_bytes,
                  static_cast<const char*>(embed_sources[i].first->data()) +
                      size_t(embed_sources[i].second) * row_bytes,
                  row_bytes);
    }
    embeds_rows = backend::Tensor(cpu, backend::kI32, {int64_t(embed_rows.size())});
    std::copy(embed_rows.begin(), embed_rows.end(), embeds_rows.data_as<int32_t>());
  }
  backend::Tensor logits_rows(cpu, backend::kI32, {int64_t(logit_rows.size())});
  std::copy(logit_rows.begin(), logit_rows.end(), logits_rows.data_as<int32_t>());
  if (logits_.empty() || logits_.shape()[0] < int64_t(logit_rows.size())) {
    logits_ = backend::Tensor(
        cpu, backend::kF32,
        {std::max<int64_t>(int64_t(logit_rows.size()), config_.max_num_seqs), spec_.vocab_size});
  }
  MmrtTensor logits_view = logits_.view();
  int64_t logits_shape[2] = {int64_t(logit_rows.size()), spec_.vocab_size};
  logits_view.shape = logits_shape;

  MmrtBatchLayout layout{};
  layout.struct_size = MMRT_SIZEOF(MmrtBatchLayout, slot_mapping);
  layout.n_seqs = n_seqs;
  layout.block_size = config_.block_size;
  layout.query_start = query_start.get();
  layout.seq_lens = seq_lens.get();
  layout.block_tables = block_tables.get();
  layout.slot_mapping = slots.get();

  MmrtDecodeArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtDecodeArgs, stream);
  args.n_tokens = n_tokens;
  args.input_ids = ids.get();
  args.positions = positions.get();
  args.layout = &layout;
  args.kv = kv_layers_.data();
  args.query_start_host = qs_p;
  args.seq_lens_host = len_p;
  args.embeds = embed_rows.empty() ? nullptr : embeds.get();
  args.embeds_rows = embed_rows.empty() ? nullptr : embeds_rows.get();
  args.logits_rows = logits_rows.get();
  args.logits = &logits_view;
  MmrtStream stream{MMRT_DEVICE_CPU, 0, nullptr};
  args.stream = &stream;
  model_.forward(args);

  const auto now = Clock::now();
  int64_t logit_index = 0;
  std::vector<Sequence*> done;
  for (const auto& c : chunks) {
    Sequence& seq = *c.seq;
    seq.n_computed += c.n_tokens;
    publish_full_blocks(seq);
    if (seq.n_computed != int64_t(seq.tokens.size())) continue;
    const float* row_logits = logits_.data_as<float>() + logit_index++ * spec_.vocab_size;
    RequestEvent event;
    const std::span<const int32_t> ids(seq.tokens);
    const Sample sample = seq.sampler.sample(row_logits, spec_.vocab_size, ids.first(size_t(seq.prompt_len)),
                                             ids.subspan(size_t(seq.prompt_len)));
    if (seq.n_generated == 0) seq.first_token = now;
    seq.last_token = now;
    append_token(seq, sample, event);
    if (event.finish != FinishReason::none) done.push_back(&seq);
  }
  for (Sequence* seq : done) {
    running_.remove_if([&](const std::unique_ptr<Sequence>& p) { return p.get() == seq; });
  }
}

BlockHash Engine::block_hash(const Sequence& seq, int64_t block_index, const BlockHash& parent) const {
  plugin::Sha256 h;
  h.update(std::as_bytes(std::span(parent)));
  const int64_t begin = block_index * config_.block_size;
  for (int64_t p = begin; p < begin + config_.block_size; ++p) {
    // A placeholder position stands for its image: the item's content hash and the offset inside it.
    const PlaceholderRange* in_range = nullptr;
    for (const auto& r : seq.ranges) {
      if (p >= r.offset && p < r.offset + r.length) in_range = &r;
    }
    if (in_range) {
      const uint8_t tag = 1;
      const int64_t offset = p - in_range->offset;
      h.update(std::as_bytes(std::span(&tag, 1)));
      h.update(std::as_bytes(std::span(seq.items[size_t(in_range->item)]->content_hash)));
      h.update(std::as_bytes(std::span(&offset, 1)));
    } else {
      const uint8_t tag = 0;
      h.update(std::as_bytes(std::span(&tag, 1)));
      h.update(std::as_bytes(std::span(&seq.tokens[size_t(p)], 1)));
    }
  }
  const auto digest = h.digest();
  BlockHash out;
  std::memcpy(out.data(), digest.data(), sizeof(out));
  return out;
}

void Engine::publish_full_blocks(Sequence& seq) {
  if (!config_.prefix_caching) return;
  while (int64_t(seq.block_hashes.size() + 1) * config_.block_size <= seq.n_computed) {
    const int64_t b = int64_t(seq.block_hashes.size());
    const BlockHash parent = b == 0 ? BlockHash{} : seq.block_hashes.back();
    const BlockHash h = block_hash(seq, b, parent);
    pool_.publish(seq.blocks[size_t(b)], h);
    seq.block_hashes.push_back(h);
  }
}

void Engine::append_token(Sequence& seq, const Sample& sample, RequestEvent& event) {
  event.samples.push_back(sample);
  seq.tokens.push_back(sample.token);
  ++seq.n_generated;
  {
    std::lock_guard lock(mutex_);
    ++stats_.generated_tokens;
    if (seq.n_generated == 1) stats_.prompt_tokens += seq.prompt_len;
  }
  const auto& eos = model_.eos_token_ids();
  const bool is_eos = !seq.params.ignore_eos && std::find(eos.begin(), eos.end(), sample.token) != eos.end();
  if (!is_eos) seq.text += seq.detokenizer->push(sample.token);

  // Stop strings: cut at the first match; otherwise hold back a tail that could still become one.
  size_t cut = std::string::npos;
  for (const auto& stop : seq.params.stop) {
    const size_t from = seq.emitted > stop.size() ? seq.emitted - stop.size() : 0;
    const size_t at = seq.text.find(stop, from);
    if (at != std::string::npos) cut = std::min(cut, at);
  }
  if (cut != std::string::npos) {
    seq.text.resize(std::max(cut, seq.emitted));
    finish(seq, FinishReason::stop, event);
    return;
  }
  if (is_eos) {
    finish(seq, FinishReason::stop, event);
    return;
  }
  if (seq.n_generated >= seq.params.max_tokens) {
    finish(seq, FinishReason::length, event);
    return;
  }
  size_t hold = 0;
  for (const auto& stop : seq.params.stop) {
    for (size_t k = std::min(stop.size() - 1, seq.text.size()); k > hold; --k) {
      if (seq.text.compare(seq.text.size() - k, k, stop, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  const size_t ready = seq.text.size() - hold;
  if (ready > seq.emitted) {
    event.text_delta = seq.text.substr(seq.emitted, ready - seq.emitted);
    seq.emitted = ready;
  }
  event.id = seq.id;
  event.prompt_tokens = seq.prompt_len;
  event.completion_tokens = seq.n_generated;
  event.cached_tokens = seq.n_cached;
  seq.on_event(event);
}

void Engine::finish(Sequence& seq, FinishReason reason, RequestEvent& event, std::string error) {
  if (reason == FinishReason::length ||
      (reason == FinishReason::stop && event.samples.size() && seq.params.stop.empty())) {
    seq.text += seq.detokenizer->finish();
  }
  if (seq.text.size() > seq.emitted) event.text_delta += seq.text.substr(seq.emitted);
  seq.emitted = seq.text.size();
  event.id = seq.id;
  event.finish = reason;
  event.error = std::move(error);
  event.prompt_tokens = seq.prompt_len;
  event.completion_tokens = seq.n_generated;
  event.cached_tokens = seq.n_cached;
  const auto now = Clock::now();
  const auto first = seq.n_generated > 0 ? seq.first_token : now;
  event.timings.ttft_ms = ms_between(seq.arrival, first);
  event.timings.total_ms = ms_between(seq.arrival, now);
  event.timings.tpot_ms =
      seq.n_generated > 1 ? ms_between(seq.first_token, seq.last_token) / double(seq.n_generated - 1) : 0;
  release(seq);
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

void Engine::release(Sequence& seq) {
  for (int32_t b : seq.blocks) pool_.release(b);
  seq.blocks.clear();
  seq.block_hashes.clear();
}

}  // namespace mmrt::engine
