// paged_attention over a randomly paged cache, for a batch mixing decode steps, full prefills and chunked
// prefills, causal and not (cross attention), with and without T5's relative position bias, against (a)
// dense attention over each sequence's gathered K/V and (b) the naive double reference (the bias expanded
// through transformers' bucket function, attention_reference.hpp).
// Unused cache slots hold NaN, so reading any slot outside a sequence's blocks or beyond its length shows up.
// Tolerance: max |out - ref| <= 1e-5 · max |ref| for both comparisons.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "attention_reference.hpp"
#include "kernel_test_util.hpp"
#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/kv_cache.hpp"
#include "kernels/cpu/paged_attention.hpp"
#include "kernels/cpu/relative_position.hpp"

using mmrt::cpu::test::random_normal;
using mmrt::cpu::test::reference_attention;
using mmrt::cpu::test::relative_max_error;

namespace {

constexpr double kTolerance = 1e-5;

struct SeqSpec {
  int64_t n_q;      // query tokens this step
  int64_t seq_len;  // cached tokens including this step's (cross attention: the encoder length)
};

// T5's relative position bias settings; the table is random.
struct RelativeBiasSpec {
  int32_t n_buckets;
  int32_t max_distance;
  bool bidirectional;
};

struct Mode {
  bool causal = true;
  const RelativeBiasSpec* rel_bias = nullptr;
};

void run_batch(const std::vector<SeqSpec>& seqs, int64_t block_size, int64_t n_head, int64_t n_head_kv,
               int64_t head_dim, uint32_t seed, Mode mode = {}) {
  const int64_t kv_dim = n_head_kv * head_dim;
  const int64_t q_dim = n_head * head_dim;
  const auto n_seqs = static_cast<int64_t>(seqs.size());
  int64_t max_blocks_per_seq = 1;
  int64_t total_blocks = 0;
  for (const SeqSpec& s : seqs) {
    const int64_t blocks = (s.seq_len + block_size - 1) / block_size;
    max_blocks_per_seq = std::max(max_blocks_per_seq, blocks);
    total_blocks += blocks;
  }
  // A pool with spare blocks, handed out in a random order.
  const int64_t n_blocks = total_blocks + 5;
  std::mt19937 rng(seed);
  std::vector<int32_t> free_blocks(static_cast<size_t>(n_blocks));
  std::iota(free_blocks.begin(), free_blocks.end(), 0);
  std::shuffle(free_blocks.begin(), free_blocks.end(), rng);
  std::vector<int32_t> block_tables(static_cast<size_t>(n_seqs * max_blocks_per_seq), -1);
  size_t next_free = 0;
  for (int64_t s = 0; s < n_seqs; ++s) {
    for (int64_t b = 0; b * block_size < seqs[s].seq_len; ++b)
      block_tables[s * max_blocks_per_seq + b] = free_blocks[next_free++];
  }

  std::vector<float> k_cache(n_blocks * block_size * kv_dim, NAN);
  std::vector<float> v_cache(n_blocks * block_size * kv_dim, NAN);
  std::vector<int32_t> query_start = {0};
  std::vector<int32_t> seq_lens;
  std::vector<std::vector<float>> seq_k, seq_v;  // contiguous per-sequence K/V: [seq_len, kv_dim]
  for (int64_t s = 0; s < n_seqs; ++s) {
    const SeqSpec& spec = seqs[s];
    seq_k.push_back(random_normal(spec.seq_len * kv_dim, seed + 100 + static_cast<uint32_t>(s)));
    seq_v.push_back(random_normal(spec.seq_len * kv_dim, seed + 200 + static_cast<uint32_t>(s)));
    std::vector<int64_t> slots;
    for (int64_t p = 0; p < spec.seq_len; ++p) {
      slots.push_back(int64_t{block_tables[s * max_blocks_per_seq + p / block_size]} * block_size +
                      p % block_size);
    }
    mmrt::cpu::kv_cache_write(seq_k[s].data(), seq_v[s].data(), k_cache.data(), v_cache.data(), slots.data(),
                              spec.seq_len, kv_dim);
    query_start.push_back(query_start.back() + static_cast<int32_t>(spec.n_q));
    seq_lens.push_back(static_cast<int32_t>(spec.seq_len));
  }
  const int64_t n_tokens = query_start.back();
  const std::vector<float> q = random_normal(n_tokens * q_dim, seed + 1);
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));

  std::vector<float> table;
  mmrt::cpu::RelativePositionBias rel_bias{};
  if (mode.rel_bias != nullptr) {
    table = random_normal(mode.rel_bias->n_buckets * n_head, seed + 2);
    rel_bias = {table.data(),
                mmrt::cpu::relative_buckets(mode.rel_bias->n_buckets, mode.rel_bias->max_distance,
                                            mode.rel_bias->bidirectional)};
  }

  std::vector<float> out(q.size(), NAN);
  mmrt::cpu::paged_attention(q.data(), k_cache.data(), v_cache.data(), out.data(), query_start.data(),
                             seq_lens.data(), block_tables.data(), n_seqs, max_blocks_per_seq, block_size,
                             n_head, n_head_kv, head_dim, scale, mode.causal,
                             mode.rel_bias != nullptr ? &rel_bias : nullptr);

  for (int64_t s = 0; s < n_seqs; ++s) {
    const SeqSpec& spec = seqs[s];
    const float* q_s = q.data() + query_start[s] * q_dim;
    // The relative bias as a dense [n_head, n_q, seq_len] bias: query row i sits at seq_len - n_q + i.
    std::vector<float> dense_bias;
    if (mode.rel_bias != nullptr) {
      dense_bias.resize(static_cast<size_t>(n_head * spec.n_q * spec.seq_len));
      for (int64_t h = 0; h < n_head; ++h) {
        for (int64_t i = 0; i < spec.n_q; ++i) {
          for (int64_t j = 0; j < spec.seq_len; ++j) {
            const int64_t bucket = mmrt::cpu::test::t5_relative_position_bucket(
                j - (spec.seq_len - spec.n_q + i), mode.rel_bias->bidirectional, mode.rel_bias->n_buckets,
                mode.rel_bias->max_distance);
            dense_bias[(h * spec.n_q + i) * spec.seq_len + j] = table[bucket * n_head + h];
          }
        }
      }
    }
    const float* bias = dense_bias.empty() ? nullptr : dense_bias.data();
    std::vector<float> dense(spec.n_q * q_dim, NAN);
    mmrt::cpu::attention(q_s, seq_k[s].data(), seq_v[s].data(), dense.data(), spec.n_q, spec.seq_len, n_head,
                         n_head_kv, head_dim, scale, mode.causal, bias);
    const std::vector<double> naive =
        reference_attention(q_s, seq_k[s].data(), seq_v[s].data(), spec.n_q, spec.seq_len, n_head, n_head_kv,
                            head_dim, scale, mode.causal, bias);
    const float* got = out.data() + query_start[s] * q_dim;
    INFO("seq " << s << ": n_q=" << spec.n_q << " seq_len=" << spec.seq_len << " block_size=" << block_size
                << " heads=" << n_head << "/" << n_head_kv << " causal=" << mode.causal
                << " rel_bias=" << (mode.rel_bias != nullptr));
    CHECK(relative_max_error(got, std::vector<double>(dense.begin(), dense.end()).data(), spec.n_q * q_dim) <=
          kTolerance);
    CHECK(relative_max_error(got, naive.data(), spec.n_q * q_dim) <= kTolerance);
  }
}

}  // namespace

TEST_CASE("paged_attention over a mixed prefill/decode batch equals dense attention on the gathered cache") {
  const std::vector<SeqSpec> batch = {
      {1, 9},    // decode, last block partly filled
      {7, 7},    // full prefill
      {5, 13},   // chunked prefill continuing a cached prefix
      {1, 1},    // first decode position
      {1, 16},   // decode exactly filling a block
      {3, 40},   // chunk at the end of a long sequence
      {33, 33},  // prefill spanning many blocks
  };
  SUBCASE("block 4, GQA 8/2, head_dim 64") {
    run_batch(batch, 4, 8, 2, 64, 1);
  }
  SUBCASE("block 16, MHA 4/4, head_dim 80") {
    run_batch(batch, 16, 4, 4, 80, 2);
  }
  SUBCASE("block 1, MQA 7/1, head_dim 33") {
    run_batch(batch, 1, 7, 1, 33, 3);
  }
  SUBCASE("single decode sequence") {
    run_batch({{1, 100}}, 16, 4, 2, 128, 4);
  }
}

TEST_CASE("paged_attention without the causal mask attends every cached key (cross attention)") {
  // Decoder rows over encoder memories: more rows than keys, fewer, a single decode row, an empty memory.
  const std::vector<SeqSpec> batch = {{3, 17}, {9, 4}, {1, 50}, {2, 0}, {6, 6}};
  SUBCASE("block 4, GQA 6/2, head_dim 24") {
    run_batch(batch, 4, 6, 2, 24, 11, Mode{false, nullptr});
  }
  SUBCASE("block 16, MHA 3/3, head_dim 65") {
    run_batch(batch, 16, 3, 3, 65, 12, Mode{false, nullptr});
  }
}

TEST_CASE("paged_attention adds T5's relative position bias bucket for bucket") {
  // Distances up to 200 cross every exact and logarithmic bucket and the clamp at max_distance.
  const std::vector<SeqSpec> batch = {{1, 200}, {7, 7}, {5, 60}, {1, 1}, {13, 40}};
  const RelativeBiasSpec decoder{32, 128, false};  // T5 decoder self attention: causal, unidirectional
  const RelativeBiasSpec encoder{32, 128, true};   // T5 encoder: every key, bidirectional
  const RelativeBiasSpec odd{7, 20, true};         // odd bucket count, short max_distance
  SUBCASE("causal, unidirectional, GQA 4/2") {
    run_batch(batch, 4, 4, 2, 32, 21, Mode{true, &decoder});
  }
  SUBCASE("non-causal, bidirectional, MHA 5/5, head_dim 17") {
    run_batch(batch, 16, 5, 5, 17, 22, Mode{false, &encoder});
  }
  SUBCASE("non-causal, bidirectional with 7 buckets, MQA 3/1") {
    run_batch(batch, 1, 3, 1, 8, 23, Mode{false, &odd});
  }
  SUBCASE("causal, bidirectional with 7 buckets, block 8") {
    run_batch(batch, 8, 2, 1, 64, 24, Mode{true, &odd});
  }
}

TEST_CASE("relative buckets equal transformers' _relative_position_bucket at every distance") {
  for (const RelativeBiasSpec spec :
       {RelativeBiasSpec{32, 128, true}, RelativeBiasSpec{32, 128, false}, RelativeBiasSpec{64, 256, true},
        RelativeBiasSpec{7, 20, true}, RelativeBiasSpec{5, 100, false}, RelativeBiasSpec{4, 3, true},
        RelativeBiasSpec{256, 1000, false}}) {
    CAPTURE(spec.n_buckets);
    CAPTURE(spec.max_distance);
    CAPTURE(spec.bidirectional);
    const mmrt::cpu::RelativeBuckets buckets =
        mmrt::cpu::relative_buckets(spec.n_buckets, spec.max_distance, spec.bidirectional);
    int failures = 0;
    for (int64_t d = -3000; d <= 3000; ++d) {
      const int64_t want = mmrt::cpu::test::t5_relative_position_bucket(d, spec.bidirectional, spec.n_buckets,
                                                                        spec.max_distance);
      if (mmrt::cpu::relative_bucket(buckets, d) != want && ++failures <= 3) {
        CHECK(mmrt::cpu::relative_bucket(buckets, d) == want);
      }
    }
    CHECK(failures == 0);
  }
  CHECK_THROWS_AS(mmrt::cpu::relative_buckets(3, 128, true), std::invalid_argument);   // 1 bucket per side
  CHECK_THROWS_AS(mmrt::cpu::relative_buckets(32, 16, false), std::invalid_argument);  // max_distance <= 16
  CHECK_THROWS_AS(mmrt::cpu::relative_buckets(512, 1024, false), std::invalid_argument);
}

TEST_CASE("paged_attention rejects inconsistent batches, naming the sequence") {
  std::vector<float> buffer(256, 0.0f);
  const std::vector<int32_t> block_tables = {0, 1};
  SUBCASE("more queries than cached tokens") {
    const std::vector<int32_t> query_start = {0, 3};
    const std::vector<int32_t> seq_lens = {2};
    CHECK_THROWS_WITH_AS(mmrt::cpu::paged_attention(
                             buffer.data(), buffer.data(), buffer.data(), buffer.data(), query_start.data(),
                             seq_lens.data(), block_tables.data(), 1, 2, 4, 1, 1, 4, 1.0f, true, nullptr),
                         doctest::Contains("sequence 0"), std::invalid_argument);
  }
  SUBCASE("seq_len beyond the block table") {
    const std::vector<int32_t> query_start = {0, 1};
    const std::vector<int32_t> seq_lens = {9};
    CHECK_THROWS_AS(mmrt::cpu::paged_attention(buffer.data(), buffer.data(), buffer.data(), buffer.data(),
                                               query_start.data(), seq_lens.data(), block_tables.data(), 1, 2,
                                               4, 1, 1, 4, 1.0f, true, nullptr),
                    std::invalid_argument);
  }
}
