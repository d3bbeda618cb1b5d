// One request inside the engine: what it asked for, where its tokens and caches are, and how far it got.
// An encoder-decoder request is the same sequence with an encoder side (what the encoder reads and the
// cross-attention blocks that hold its memory's K/V), so every stage treats both kinds alike.
//
// Ownership and threading: the engine owns each Sequence (unique_ptr in its queues); the scheduler,
// runner and output stage touch it only on the engine thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend/tensor.hpp"
#include "core/engine/block_pool.hpp"
#include "core/engine/model.hpp"
#include "core/engine/sampling.hpp"
#include "core/text/streaming_detokenizer.hpp"

namespace mmrt::engine {

using Clock = std::chrono::steady_clock;

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

struct RequestInput {
  std::string id;
  PaddedPrompt prompt;
  std::vector<std::shared_ptr<const ProcessedItem>> items;
  SamplingParams params;
};

// One item's embedding rows inside an encoder output that several items may share.
struct EmbedRows {
  std::shared_ptr<const backend::Tensor> source;  // [rows, embed_dim] on the model's device
  int64_t first_row = 0;
  explicit operator bool() const { return source != nullptr; }
};

struct Sequence {
  // The encoder side of an encoder-decoder request.
  struct EncoderSide {
    TokenRuns input;                    // encoder ids and the items' runs in them
    BlockHash root{};                   // hash of the encoder input: roots the decoder's prefix hashes too
    std::vector<int32_t> cross_blocks;  // the memory's K/V, [ceil(len / block_size)] blocks
    bool cross_ready = false;           // the cross blocks hold this memory's K/V
    int64_t length() const { return int64_t(input.ids.size()); }
  };

  Sequence(RequestInput in, EventCallback cb, int32_t decoder_start_token_id)
      : id(std::move(in.id)),
        ranges(std::move(in.prompt.ranges)),
        positions3(std::move(in.prompt.positions3)),
        next_position_delta(in.prompt.next_position_delta),
        items(std::move(in.items)),
        params(std::move(in.params)),
        sampler(params),
        on_event(std::move(cb)),
        arrival(Clock::now()) {
    if (in.prompt.encoder) {
      encoder.emplace();
      encoder->input = std::move(*in.prompt.encoder);
      tokens.push_back(decoder_start_token_id);
      for (auto& r : ranges) r.offset += 1;
    }
    tokens.insert(tokens.end(), in.prompt.ids.begin(), in.prompt.ids.end());
    prompt_len = int64_t(tokens.size());
    item_embeds.resize(items.size());
  }

  std::string id;
  std::vector<int32_t>
      tokens;  // decoder tokens: prompt (after decoder_start for encoder-decoder), then generated
  int64_t prompt_len = 0;
  std::vector<PlaceholderRange> ranges;  // decoder-side runs of items' embeddings
  std::vector<int32_t> positions3;
  int64_t next_position_delta = 0;
  std::vector<std::shared_ptr<const ProcessedItem>> items;
  // Each item's embeddings on the model's device, taken from the encoder cache when a step first needs them.
  std::vector<EmbedRows> item_embeds;
  std::optional<EncoderSide> encoder;
  SamplingParams params;
  Sampler sampler;
  EventCallback on_event;

  // Decoder self-attention cache.
  std::vector<int32_t> blocks;
  std::vector<BlockHash> block_hashes;  // hashes of the leading full blocks, in order
  int64_t n_computed = 0;               // tokens whose K/V are in the cache
  int64_t n_cached = 0;                 // of those, taken from the prefix cache
  bool admitted = false;

  // Output stage.
  std::unique_ptr<text::StreamingDetokenizer> detokenizer;
  std::string text;    // everything decoded so far (stop strings cut it)
  size_t emitted = 0;  // bytes of text already sent
  bool cut_by_stop_string = false;
  int64_t n_generated = 0;
  bool cancelled = false;

  Clock::time_point arrival, first_token, last_token;

  // Where the decoder's prefix hash chain starts: the encoder input's hash, or zero.
  BlockHash hash_root() const { return encoder ? encoder->root : BlockHash{}; }
};

}  // namespace mmrt::engine
