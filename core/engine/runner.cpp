#include "core/engine/runner.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "core/backend/cuda_runtime.hpp"

namespace mmrt::engine {

template <typename T>
T* Runner::HostBuffer::reserve(MmrtDataType dtype, std::vector<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  if (tensor.empty() || tensor.numel() < std::max<int64_t>(n, 1)) {
    const int64_t capacity = std::max<int64_t>({n, 2 * (tensor.empty() ? 0 : tensor.numel()), 64});
    tensor = backend::Tensor({MMRT_DEVICE_CPU, 0}, dtype, {capacity});
  }
  shape = std::move(dims);
  view = tensor.view();
  view.ndim = int32_t(shape.size());
  view.shape = shape.data();
  return tensor.data_as<T>();
}

Runner::Runner(Model& model, RunnerConfig config) : model_(model), config_(config), spec_(model.kv_spec()) {
  const std::vector<int64_t> shape = {config_.n_blocks, config_.block_size, spec_.n_head_kv, spec_.head_dim};
  // The layer tables point into the tensors: fill them once the vectors stop growing.
  for (int32_t il = 0; il < spec_.n_layer; ++il) {
    k_cache_.emplace_back(model.device(), spec_.dtype, shape);
    v_cache_.emplace_back(model.device(), spec_.dtype, shape);
  }
  for (int32_t il = 0; il < spec_.n_layer; ++il)
    kv_layers_.push_back({k_cache_[il].get(), v_cache_[il].get()});
  if (model.is_encoder_decoder()) {
    const std::vector<int64_t> cross_shape = {config_.n_cross_blocks, config_.block_size,
                                              spec_.cross_n_head_kv, spec_.cross_head_dim};
    for (int32_t il = 0; il < spec_.n_cross_layer; ++il) {
      cross_k_.emplace_back(model.device(), spec_.dtype, cross_shape);
      cross_v_.emplace_back(model.device(), spec_.dtype, cross_shape);
    }
    for (int32_t il = 0; il < spec_.n_cross_layer; ++il)
      cross_layers_.push_back({cross_k_[il].get(), cross_v_[il].get()});
  }
}

void Runner::ensure_encoded(const StepPlan& plan) {
  std::vector<const ProcessedItem*> to_encode;
  std::vector<std::pair<Sequence*, size_t>> owners;
  const auto need = [&](Sequence& seq, size_t item) {
    if (seq.item_embeds[item]) return;
    const ProcessedItem& processed = *seq.items[item];
    if (auto hit = encoder_cache_.find(processed.content_hash); hit != encoder_cache_.end()) {
      hit->second.last_use = ++use_clock_;
      seq.item_embeds[item] = hit->second.rows;
      ++counters_.encoder_cache_hits;
      return;
    }
    for (const auto& [owner, index] : owners) {
      if (owner == &seq && index == item) return;
    }
    to_encode.push_back(&processed);
    owners.emplace_back(&seq, item);
  };
  for (const ScheduledChunk& c : plan.chunks) {
    Sequence& seq = *c.seq;
    const int64_t begin = seq.n_computed, end = seq.n_computed + c.n_tokens;
    for (const auto& r : seq.ranges) {
      if (r.offset < end && r.offset + r.length > begin) need(seq, size_t(r.item));
    }
    if (c.fill_cross) {
      for (const auto& r : seq.encoder->input.ranges) need(seq, size_t(r.item));
    }
  }
  if (to_encode.empty()) return;
  auto all = std::make_shared<const backend::Tensor>(model_.encode(to_encode));
  int64_t row = 0;
  for (size_t i = 0; i < to_encode.size(); ++i) {
    const EmbedRows rows{all, row};
    row += to_encode[i]->n_tokens;
    owners[i].first->item_embeds[owners[i].second] = rows;
    encoder_cache_[to_encode[i]->content_hash] = {rows, ++use_clock_};
  }
  while (int64_t(encoder_cache_.size()) > config_.encoder_cache_items) {
    auto oldest =
        std::min_element(encoder_cache_.begin(), encoder_cache_.end(),
                         [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; });
    encoder_cache_.erase(oldest);
  }
  counters_.encoder_runs += int64_t(to_encode.size());
}

backend::Tensor Runner::gather_embeds(const std::vector<RowRun>& runs, int64_t n_rows) {
  if (runs.empty()) return {};
  const backend::Tensor& first = *runs.front().source->source;
  const int64_t dim = first.shape()[1];
  const size_t row_bytes = size_t(dim) * backend::dtype_size(first.dtype());
  backend::Tensor out(model_.device(), first.dtype(), {n_rows, dim});
  size_t offset = 0;
  for (const RowRun& run : runs) {
    const backend::Tensor& src = *run.source->source;
    const size_t bytes = size_t(run.count) * row_bytes;
    backend::copy_bytes(
        static_cast<char*>(out.data()) + offset, model_.device(),
        static_cast<const char*>(src.data()) + size_t(run.source->first_row + run.first) * row_bytes,
        model_.device(), bytes, model_.stream());
    offset += bytes;
  }
  return out;
}

backend::Tensor Runner::encoder_memory(const StepPlan& plan) {
  std::vector<int32_t> ids, query_start{0}, embeds_rows;
  std::vector<RowRun> runs;
  int64_t n_embed_rows = 0;
  for (const ScheduledChunk& c : plan.chunks) {
    if (!c.fill_cross) continue;
    const Sequence& seq = *c.seq;
    const TokenRuns& input = seq.encoder->input;
    const int64_t base = int64_t(ids.size());
    ids.insert(ids.end(), input.ids.begin(), input.ids.end());
    query_start.push_back(int32_t(ids.size()));
    std::vector<PlaceholderRange> ranges = input.ranges;
    std::sort(ranges.begin(), ranges.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
    for (const auto& r : ranges) {
      runs.push_back({&seq.item_embeds[size_t(r.item)], 0, r.length});
      for (int64_t p = 0; p < r.length; ++p) embeds_rows.push_back(int32_t(base + r.offset + p));
      n_embed_rows += r.length;
    }
  }
  if (query_start.size() == 1) return {};
  backend::Tensor embeds = gather_embeds(runs, n_embed_rows);
  if (model_.has_encode_memory()) return model_.encode_memory(ids, query_start, embeds, embeds_rows);
  // Without encode_memory the memory is the items' embeddings, which must then cover the encoder input.
  if (n_embed_rows != int64_t(ids.size())) {
    throw std::runtime_error(model_.plugin_label() +
                             " has text in its encoder input but no encode_memory slot to encode it");
  }
  return embeds;
}

void Runner::run(const StepPlan& plan) {
  ensure_encoded(plan);
  const backend::Tensor memory = encoder_memory(plan);

  int64_t n_tokens = 0;
  for (const auto& c : plan.chunks) n_tokens += c.n_tokens;
  const int32_t n_seqs = int32_t(plan.chunks.size());
  const bool mrope = spec_.position_axes == 3;
  const int64_t bs = config_.block_size, max_blocks = config_.max_blocks_per_seq;

  auto* ids = ids_.reserve<int32_t>(backend::kI32, {n_tokens});
  auto* pos = positions_.reserve<int32_t>(
      backend::kI32, mrope ? std::vector<int64_t>{3, n_tokens} : std::vector<int64_t>{n_tokens});
  auto* qs = query_start_.reserve<int32_t>(backend::kI32, {n_seqs + 1});
  auto* lens = seq_lens_.reserve<int32_t>(backend::kI32, {n_seqs});
  auto* bt = block_tables_.reserve<int32_t>(backend::kI32, {n_seqs, max_blocks});
  auto* slots = slots_.reserve<int64_t>(backend::kI64, {n_tokens});
  std::fill(bt, bt + n_seqs * max_blocks, 0);
  std::vector<int32_t> embed_rows, logit_rows;
  std::vector<RowRun> runs;

  int64_t row = 0;
  for (int32_t s = 0; s < n_seqs; ++s) {
    Sequence& seq = *plan.chunks[size_t(s)].seq;
    const int64_t begin = seq.n_computed, n = plan.chunks[size_t(s)].n_tokens;
    qs[s] = int32_t(row);
    lens[s] = int32_t(begin + n);
    std::copy(seq.blocks.begin(), seq.blocks.end(), bt + s * max_blocks);
    const int64_t n_prompt_positions = int64_t(seq.positions3.size() / 3);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t p = begin + i;
      ids[row + i] = seq.tokens[size_t(p)];
      slots[row + i] = int64_t(seq.blocks[size_t(p / bs)]) * bs + p % bs;
      if (mrope) {
        for (int64_t a = 0; a < 3; ++a) {
          pos[a * n_tokens + row + i] = p < n_prompt_positions
                                            ? seq.positions3[size_t(a * n_prompt_positions + p)]
                                            : int32_t(p + seq.next_position_delta);
        }
      } else {
        pos[row + i] = int32_t(p);
      }
    }
    for (const auto& r : seq.ranges) {
      const int64_t lo = std::max(begin, r.offset), hi = std::min(begin + n, r.offset + r.length);
      if (lo >= hi) continue;
      runs.push_back({&seq.item_embeds[size_t(r.item)], lo - r.offset, hi - lo});
      for (int64_t p = lo; p < hi; ++p) embed_rows.push_back(int32_t(row + p - begin));
    }
    if (begin + n == int64_t(seq.tokens.size())) logit_rows.push_back(int32_t(row + n - 1));
    row += n;
  }
  qs[n_seqs] = int32_t(row);

  const backend::Tensor embeds = gather_embeds(runs, int64_t(embed_rows.size()));
  auto* er = embeds_rows_.reserve<int32_t>(backend::kI32, {int64_t(embed_rows.size())});
  std::copy(embed_rows.begin(), embed_rows.end(), er);
  auto* lr = logits_rows_.reserve<int32_t>(backend::kI32, {int64_t(logit_rows.size())});
  std::copy(logit_rows.begin(), logit_rows.end(), lr);
  if (logits_.empty() || logits_.shape()[0] < int64_t(logit_rows.size())) {
    logits_ = backend::Tensor(
        {MMRT_DEVICE_CPU, 0}, backend::kF32,
        {std::max<int64_t>(int64_t(logit_rows.size()), config_.max_num_seqs), spec_.vocab_size});
  }
  MmrtTensor logits_view = logits_.view();
  int64_t logits_shape[2] = {int64_t(logit_rows.size()), spec_.vocab_size};
  logits_view.shape = logits_shape;

  MmrtBatchLayout layout{};
  layout.struct_size = MMRT_SIZEOF(MmrtBatchLayout, slot_mapping);
  layout.n_seqs = n_seqs;
  layout.block_size = config_.block_size;
  layout.query_start = &query_start_.view;
  layout.seq_lens = &seq_lens_.view;
  layout.block_tables = &block_tables_.view;
  layout.slot_mapping = &slots_.view;

  MmrtDecodeArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtDecodeArgs, stream);
  args.n_tokens = n_tokens;
  args.input_ids = &ids_.view;
  args.positions = &positions_.view;
  args.layout = &layout;
  args.kv = kv_layers_.data();
  args.query_start_host = qs;
  args.seq_lens_host = lens;
  args.embeds = embed_rows.empty() ? nullptr : embeds.get();
  args.embeds_rows = embed_rows.empty() ? nullptr : &embeds_rows_.view;
  args.logits_rows = &logits_rows_.view;
  args.logits = &logits_view;
  args.stream = &model_.stream();

  MmrtBatchLayout cross_layout{};
  if (model_.is_encoder_decoder()) {
    const int64_t max_cross = config_.max_cross_blocks_per_seq;
    auto* cross_lens = cross_seq_lens_.reserve<int32_t>(backend::kI32, {n_seqs});
    auto* cross_bt = cross_block_tables_.reserve<int32_t>(backend::kI32, {n_seqs, max_cross});
    std::fill(cross_bt, cross_bt + n_seqs * max_cross, 0);
    const int64_t n_memory_rows = memory.empty() ? 0 : memory.shape()[0];
    auto* cross_slots = cross_slots_.reserve<int64_t>(backend::kI64, {n_memory_rows});
    int64_t memory_row = 0;
    for (int32_t s = 0; s < n_seqs; ++s) {
      const ScheduledChunk& c = plan.chunks[size_t(s)];
      const Sequence::EncoderSide& enc = *c.seq->encoder;
      cross_lens[s] = int32_t(enc.length());
      std::copy(enc.cross_blocks.begin(), enc.cross_blocks.end(), cross_bt + s * max_cross);
      if (!c.fill_cross) continue;
      for (int64_t p = 0; p < enc.length(); ++p)
        cross_slots[memory_row++] = int64_t(enc.cross_blocks[size_t(p / bs)]) * bs + p % bs;
    }
    if (memory_row != n_memory_rows) throw std::logic_error("encoder memory rows do not match the batch");
    cross_layout.struct_size = MMRT_SIZEOF(MmrtBatchLayout, slot_mapping);
    cross_layout.n_seqs = n_seqs;
    cross_layout.block_size = config_.block_size;
    cross_layout.query_start = &query_start_.view;
    cross_layout.seq_lens = &cross_seq_lens_.view;
    cross_layout.block_tables = &cross_block_tables_.view;
    cross_layout.slot_mapping = &cross_slots_.view;
    args.encoder_states = memory.empty() ? nullptr : memory.get();
    args.cross_layout = &cross_layout;
    args.cross_kv = cross_layers_.data();
  }
  model_.forward(args);
}

}  // namespace mmrt::engine
