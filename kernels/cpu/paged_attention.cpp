#include "kernels/cpu/paged_attention.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/attention_core.hpp"
#include "kernels/cpu/scratch.hpp"

namespace mmrt::cpu {

namespace {

void check_batch(const int32_t* query_start, const int32_t* seq_lens, int64_t n_seqs,
                 int64_t max_blocks_per_seq, int64_t block_size, bool causal) {
  for (int64_t s = 0; s < n_seqs; ++s) {
    const int64_t n_q = int64_t{query_start[s + 1]} - query_start[s];
    const auto fail = [s](const std::string& what) {
      throw std::invalid_argument("paged_attention: sequence " + std::to_string(s) + " has " + what);
    };
    if (n_q < 0) fail("a decreasing query_start");
    if (seq_lens[s] < 0) fail("a negative seq_len");
    if (causal && n_q > seq_lens[s]) {
      fail(std::to_string(n_q) + " query tokens but seq_len " + std::to_string(seq_lens[s]));
    }
    if (seq_lens[s] > max_blocks_per_seq * block_size) {
      fail("seq_len " + std::to_string(seq_lens[s]) + " beyond its " + std::to_string(max_blocks_per_seq) +
           " blocks of " + std::to_string(block_size));
    }
  }
}

}  // namespace

void paged_attention(const float* q, const float* k_cache, const float* v_cache, float* out,
                     const int32_t* query_start, const int32_t* seq_lens, const int32_t* block_tables,
                     int64_t n_seqs, int64_t max_blocks_per_seq, int64_t block_size, int64_t n_head,
                     int64_t n_head_kv, int64_t head_dim, float scale, bool causal,
                     const RelativePositionBias* rel_bias) {
  if (n_head_kv <= 0 || n_head % n_head_kv != 0) {
    throw std::invalid_argument("paged_attention: n_head " + std::to_string(n_head) +
                                " is not a multiple of n_head_kv " + std::to_string(n_head_kv));
  }
  check_batch(query_start, seq_lens, n_seqs, max_blocks_per_seq, block_size, causal);
  const int64_t n_rep = n_head / n_head_kv;
  const int64_t q_stride = n_head * head_dim;
  const int64_t kv_stride = n_head_kv * head_dim;

  thread_local std::vector<AttentionWorkItem> items;
  plan_attention_work(
      n_seqs, query_start, [&](int64_t s) { return int64_t{seq_lens[s]}; }, n_head_kv, n_rep, items);

  // Inside the parallel region `items` would name each worker's own (empty) thread_local vector.
  const AttentionWorkItem* work = items.data();
  const auto n_items = static_cast<int64_t>(items.size());
#pragma omp parallel for schedule(dynamic)
  for (int64_t it = 0; it < n_items; ++it) {
    const AttentionWorkItem item = work[it];
    const int64_t seq_len = seq_lens[item.seq];
    const int64_t first_position = seq_len - (int64_t{query_start[item.seq + 1]} - query_start[item.seq]);
    const int32_t* block_table = block_tables + item.seq * max_blocks_per_seq;

    thread_local std::vector<AttentionQuery> queries;
    queries.clear();
    for (int64_t row = item.row_begin; row < item.row_end; ++row) {
      const int64_t n_visible = causal ? first_position + (row - query_start[item.seq]) + 1 : seq_len;
      for (int64_t h = item.kv_head * n_rep; h < (item.kv_head + 1) * n_rep; ++h) {
        queries.push_back(AttentionQuery{q + row * q_stride + h * head_dim,
                                         out + row * q_stride + h * head_dim, n_visible, nullptr});
      }
    }
    if (rel_bias != nullptr) {
      // Row r's bias over keys p: table[bucket(p - position of r), h], one bucket lookup per (row, key).
      float* biases =
          thread_scratch(ScratchSlot::attention_bias, queries.size() * static_cast<size_t>(seq_len));
      for (size_t r = 0; r < queries.size(); r += static_cast<size_t>(n_rep)) {
        const int64_t row = item.row_begin + static_cast<int64_t>(r) / n_rep;
        const int64_t position = first_position + (row - query_start[item.seq]);
        for (int64_t p = 0; p < queries[r].n_visible; ++p) {
          const float* bucket_row =
              rel_bias->table + relative_bucket(rel_bias->buckets, p - position) * n_head;
          for (int64_t j = 0; j < n_rep; ++j)
            biases[(r + j) * seq_len + p] = bucket_row[item.kv_head * n_rep + j];
        }
        for (int64_t j = 0; j < n_rep; ++j) queries[r + j].bias = biases + (r + j) * seq_len;
      }
    }
    const auto n_queries = static_cast<int64_t>(queries.size());
    float* scores = thread_scratch(ScratchSlot::attention_scores, static_cast<size_t>(n_queries * seq_len));
    const int64_t head_offset = item.kv_head * head_dim;
    auto slot_of = [&](int64_t p) {
      return int64_t{block_table[p / block_size]} * block_size + p % block_size;
    };
    attend(
        queries.data(), n_queries, head_dim, scale,
        [&](int64_t p) { return k_cache + slot_of(p) * kv_stride + head_offset; },
        [&](int64_t p) { return v_cache + slot_of(p) * kv_stride + head_offset; }, scores);
  }
}

}  // namespace mmrt::cpu
