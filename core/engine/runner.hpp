// The execution stage: runs a StepPlan on the model. It owns the KV cache tensors (decoder self-attention
// and, for encoder-decoder models, cross-attention pages), the device-resident encoder cache (items'
// embeddings by content hash), and the per-step batch tensors, kept in persistent buffers that grow but
// are not reallocated every step. Embeddings stay on the model's device from the encoder to the decoder.
//
// For a chunk with fill_cross it computes the sequence's encoder memory (the plugin's encode_memory over
// the encoder input, or the items' embeddings themselves) and hands it to forward as encoder_states,
// whose rows the plugin stores into the sequence's cross blocks.
//
// Not thread-safe: the engine thread is its only user.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/backend/tensor.hpp"
#include "core/engine/model.hpp"
#include "core/engine/scheduler.hpp"

namespace mmrt::engine {

struct RunnerConfig {
  int32_t block_size = 16;
  int64_t n_blocks = 0;
  int64_t n_cross_blocks = 0;
  int64_t max_blocks_per_seq = 0;
  int64_t max_cross_blocks_per_seq = 0;
  int32_t max_num_seqs = 64;
  int32_t encoder_cache_items = 64;
};

struct RunnerCounters {
  int64_t encoder_cache_hits = 0, encoder_runs = 0;
};

class Runner {
 public:
  Runner(Model& model, RunnerConfig config);

  // Runs the plan; afterwards logits(i) is the row of the i-th chunk whose sequence reached the end of
  // its tokens (in plan order).
  void run(const StepPlan& plan);
  const float* logits(int64_t i) const { return logits_.data_as<float>() + i * model_.kv_spec().vocab_size; }
  const RunnerCounters& counters() const { return counters_; }

 private:
  // A host buffer of at least n elements of dtype, grown (never shrunk) as batches need.
  struct HostBuffer {
    backend::Tensor tensor;
    MmrtTensor view{};
    std::vector<int64_t> shape;
    template <typename T>
    T* reserve(MmrtDataType dtype, std::vector<int64_t> dims);
  };

  void ensure_encoded(const StepPlan& plan);
  // The encoder memory of the chunks with fill_cross, rows in plan order, on the model's device.
  backend::Tensor encoder_memory(const StepPlan& plan);
  // Copies the given rows of items' embeddings into one [rows, embed_dim] tensor on the model's device.
  struct RowRun {
    const EmbedRows* source;
    int64_t first, count;
  };
  backend::Tensor gather_embeds(const std::vector<RowRun>& runs, int64_t n_rows);

  Model& model_;
  RunnerConfig config_;
  MmrtKvSpec spec_;
  std::vector<backend::Tensor> k_cache_, v_cache_, cross_k_, cross_v_;
  std::vector<MmrtKvLayer> kv_layers_, cross_layers_;

  struct EncoderCacheEntry {
    EmbedRows rows;
    uint64_t last_use;
  };
  std::unordered_map<BlockHash, EncoderCacheEntry, BlockHashHasher> encoder_cache_;
  uint64_t use_clock_ = 0;

  HostBuffer ids_, positions_, query_start_, seq_lens_, block_tables_, slots_, embeds_rows_, logits_rows_;
  HostBuffer cross_seq_lens_, cross_block_tables_, cross_slots_;
  backend::Tensor logits_;
  RunnerCounters counters_;
};

}  // namespace mmrt::engine
