// Dense and paged attention and the KV cache write on the GPU against the CPU table: causal and
// bidirectional, GQA, bias, head_dim up to 256 (which needs more than 48 KB of shared memory), a mixed
// prefill/decode batch over a shuffled paged cache, and a long decode that the plan splits over the context.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <utility>

#include "kernels/cuda/paged_attention.cuh"
#include "tests/kernels/cuda/cuda_test_util.hpp"

using namespace mmrt;
using namespace mmrt::cuda_test;
using mmrt::backend::cpu_kernels;
using mmrt::backend::cuda_kernels;
using mmrt::backend::kF32;

namespace {

std::vector<float> inputs(MmrtDataType dtype, int64_t n, uint32_t seed) {
  return rounded(dtype, cpu::test::random_normal(n, seed));
}

struct DenseCase {
  int64_t n_q, n_kv, n_head, n_head_kv, head_dim;
  bool causal, bias;
};

}  // namespace

TEST_CASE("dense attention matches the CPU: causal, bidirectional, GQA, bias, head_dim 40..256") {
  const DenseCase cases[] = {
      {13, 13, 4, 4, 40, true, false},   // a prefill
      {13, 29, 6, 2, 64, true, false},   // queries are the last 13 of 29 positions, GQA 3:1
      {17, 17, 2, 2, 128, false, true},  // a ViT block with an additive bias
      {5, 40, 2, 1, 256, true, false},   // MQA, the largest head
      {1, 1, 3, 3, 16, true, false},     // one token
  };
  for (const DenseCase& c : cases) {
    for (MmrtDataType dt : kDtypes) {
      CAPTURE(name_of(dt));
      CAPTURE(c.n_q);
      CAPTURE(c.n_kv);
      CAPTURE(c.head_dim);
      const int64_t q_n = c.n_q * c.n_head * c.head_dim, kv_n = c.n_kv * c.n_head_kv * c.head_dim;
      const auto q = inputs(dt, q_n, 21), k = inputs(dt, kv_n, 22), v = inputs(dt, kv_n, 23);
      const auto bias = cpu::test::random_normal(c.n_head * c.n_q * c.n_kv, 24);
      const float scale = 1.0f / std::sqrt(float(c.head_dim));
      Tensor hq = host_f32({c.n_q, c.n_head, c.head_dim}, q),
             hk = host_f32({c.n_kv, c.n_head_kv, c.head_dim}, k),
             hv = host_f32({c.n_kv, c.n_head_kv, c.head_dim}, v),
             hb = host_f32({c.n_head, c.n_q, c.n_kv}, bias);
      Tensor dq = device_tensor(dt, {c.n_q, c.n_head, c.head_dim}, q),
             dk = device_tensor(dt, {c.n_kv, c.n_head_kv, c.head_dim}, k),
             dv = device_tensor(dt, {c.n_kv, c.n_head_kv, c.head_dim}, v),
             db = device_tensor(kF32, {c.n_head, c.n_q, c.n_kv}, bias);
      Tensor hout = host_f32({c.n_q, c.n_head, c.head_dim}, std::vector<float>(q_n));
      Tensor dout(kGpu, dt, {c.n_q, c.n_head, c.head_dim});
      ok(cpu_kernels()->attention(hq.get(), hk.get(), hv.get(), c.bias ? hb.get() : nullptr, scale, c.causal,
                                  hout.get(), nullptr));
      ok(cuda_kernels()->attention(dq.get(), dk.get(), dv.get(), c.bias ? db.get() : nullptr, scale, c.causal,
                                   dout.get(), stream()));
      expect_close(dout, hout, dt);
    }
  }
}

TEST_CASE("a causal query that sees no key gets zeros, not NaN") {
  // n_q > n_kv: the first n_q - n_kv queries see nothing.
  const int64_t n_q = 6, n_kv = 3, h = 2, d = 8;
  Tensor q = device_tensor(kF32, {n_q, h, d}, cpu::test::random_normal(n_q * h * d, 25));
  Tensor k = device_tensor(kF32, {n_kv, h, d}, cpu::test::random_normal(n_kv * h * d, 26));
  Tensor v = device_tensor(kF32, {n_kv, h, d}, cpu::test::random_normal(n_kv * h * d, 27));
  Tensor out(kGpu, kF32, {n_q, h, d});
  ok(cuda_kernels()->attention(q.get(), k.get(), v.get(), nullptr, 0.3f, 1, out.get(), stream()));
  const std::vector<float> got = to_host(out);
  for (int64_t i = 0; i < (n_q - n_kv) * h * d; ++i) CHECK(got[size_t(i)] == 0.0f);
  for (float x : got) CHECK(std::isfinite(x));
}

namespace {

// A batch over a paged cache: sequences with (n_q rows this step, seq_len cached including them).
struct PagedBatch {
  int64_t block_size, n_blocks, n_head, n_head_kv, head_dim, max_blocks;
  std::vector<std::pair<int64_t, int64_t>> seqs;
};

// What paged_attention_ex adds: no causal mask, T5's relative bias (n_buckets 0: none).
struct PagedMode {
  bool causal = true;
  int32_t n_buckets = 0, max_distance = 0;
  bool bidirectional = false;
};

// Runs kv_cache_write for every sequence's full context (as earlier steps would have), then this step's
// paged attention (paged_attention_ex unless the mode is the default), on both tables; compares the caches
// and the outputs.
void check_paged(const PagedBatch& b, MmrtDataType dt, uint32_t seed, PagedMode mode = {}) {
  const int64_t n_seqs = int64_t(b.seqs.size()), kv_dim = b.n_head_kv * b.head_dim;
  // Every sequence gets a shuffled set of blocks.
  std::vector<int32_t> free_blocks(size_t(b.n_blocks));
  std::iota(free_blocks.begin(), free_blocks.end(), 0);
  std::shuffle(free_blocks.begin(), free_blocks.end(), std::mt19937(seed));
  std::vector<int32_t> tables(size_t(n_seqs * b.max_blocks), 0), query_start{0}, seq_lens;
  std::vector<int64_t> slots;  // every cached token of every sequence, in order
  size_t next = 0;
  for (int64_t s = 0; s < n_seqs; ++s) {
    const auto [n_q, len] = b.seqs[size_t(s)];
    const int64_t blocks = (len + b.block_size - 1) / b.block_size;
    REQUIRE(blocks <= b.max_blocks);
    for (int64_t i = 0; i < blocks; ++i) tables[size_t(s * b.max_blocks + i)] = free_blocks.at(next++);
    for (int64_t p = 0; p < len; ++p) {
      slots.push_back(int64_t(tables[size_t(s * b.max_blocks + p / b.block_size)]) * b.block_size +
                      p % b.block_size);
    }
    query_start.push_back(query_start.back() + int32_t(n_q));
    seq_lens.push_back(int32_t(len));
  }
  slots.push_back(-1);  // a padding token: never stored
  const int64_t n_written = int64_t(slots.size()), n_tokens = query_start.back();
  const auto k = inputs(dt, n_written * kv_dim, seed + 1), v = inputs(dt, n_written * kv_dim, seed + 2);
  const auto q = inputs(dt, n_tokens * b.n_head * b.head_dim, seed + 3);
  const std::vector<float> zeros(size_t(b.n_blocks * b.block_size * kv_dim), 0.0f);
  const std::vector<int64_t> cache_shape = {b.n_blocks, b.block_size, b.n_head_kv, b.head_dim};

  Tensor hkc = host_f32(cache_shape, zeros), hvc = host_f32(cache_shape, zeros);
  Tensor dkc = device_tensor(dt, cache_shape, zeros), dvc = device_tensor(dt, cache_shape, zeros);
  Tensor hk = host_f32({n_written, b.n_head_kv, b.head_dim}, k),
         hv = host_f32({n_written, b.n_head_kv, b.head_dim}, v);
  Tensor dk = device_tensor(dt, {n_written, b.n_head_kv, b.head_dim}, k),
         dv = device_tensor(dt, {n_written, b.n_head_kv, b.head_dim}, v);
  Tensor hslots = host_int<int64_t>({n_written}, slots), dslots = device_int<int64_t>({n_written}, slots);
  Tensor hqs = host_int<int32_t>({n_seqs + 1}, query_start),
         dqs = device_int<int32_t>({n_seqs + 1}, query_start);
  Tensor hlens = host_int<int32_t>({n_seqs}, seq_lens), dlens = device_int<int32_t>({n_seqs}, seq_lens);
  Tensor htables = host_int<int32_t>({n_seqs, b.max_blocks}, tables),
         dtables = device_int<int32_t>({n_seqs, b.max_blocks}, tables);

  auto layout_of = [&](Tensor& qs, Tensor& lens, Tensor& tbl, Tensor& sl) {
    MmrtBatchLayout layout{};
    layout.struct_size = MMRT_SIZEOF(MmrtBatchLayout, slot_mapping);
    layout.n_seqs = int32_t(n_seqs);
    layout.block_size = int32_t(b.block_size);
    layout.query_start = qs.get();
    layout.seq_lens = lens.get();
    layout.block_tables = tbl.get();
    layout.slot_mapping = sl.get();
    return layout;
  };
  const MmrtBatchLayout hlayout = layout_of(hqs, hlens, htables, hslots);
  const MmrtBatchLayout dlayout = layout_of(dqs, dlens, dtables, dslots);
  const MmrtKvLayer hlayer{hkc.get(), hvc.get()}, dlayer{dkc.get(), dvc.get()};
  ok(cpu_kernels()->kv_cache_write(hk.get(), hv.get(), hlayer, &hlayout, nullptr));
  ok(cuda_kernels()->kv_cache_write(dk.get(), dv.get(), dlayer, &dlayout, stream()));
  expect_close(dkc, hkc, dt, 1e-7);  // a pure copy
  expect_close(dvc, hvc, dt, 1e-7);

  Tensor hq = host_f32({n_tokens, b.n_head, b.head_dim}, q),
         dq = device_tensor(dt, {n_tokens, b.n_head, b.head_dim}, q);
  Tensor hout = host_f32({n_tokens, b.n_head, b.head_dim}, std::vector<float>(q.size()));
  Tensor dout(kGpu, dt, {n_tokens, b.n_head, b.head_dim});
  const float scale = 1.0f / std::sqrt(float(b.head_dim));
  if (mode.causal && mode.n_buckets == 0) {
    ok(cpu_kernels()->paged_attention(hq.get(), hlayer, &hlayout, scale, hout.get(), nullptr));
    ok(cuda_kernels()->paged_attention(dq.get(), dlayer, &dlayout, scale, dout.get(), stream()));
    expect_close(dout, hout, dt);
    return;
  }
  const auto table = cpu::test::random_normal(std::max(mode.n_buckets, 1) * b.n_head, seed + 4);
  Tensor hbias = host_f32({std::max(mode.n_buckets, 1), b.n_head}, table);
  Tensor dbias = device_tensor(kF32, {std::max(mode.n_buckets, 1), b.n_head}, table);
  auto args_of = [&](Tensor& q_, MmrtKvLayer layer, const MmrtBatchLayout* layout, Tensor& bias,
                     Tensor& out) {
    MmrtPagedAttentionArgs a{};
    a.struct_size = MMRT_SIZEOF(MmrtPagedAttentionArgs, out);
    a.q = q_.get();
    a.layer = layer;
    a.layout = layout;
    a.scale = scale;
    a.causal = mode.causal ? 1 : 0;
    a.rel_bias = mode.n_buckets > 0 ? bias.get() : nullptr;
    a.n_buckets = mode.n_buckets;
    a.max_distance = mode.max_distance;
    a.bidirectional = mode.bidirectional ? 1 : 0;
    a.out = out.get();
    return a;
  };
  const MmrtPagedAttentionArgs hargs = args_of(hq, hlayer, &hlayout, hbias, hout);
  const MmrtPagedAttentionArgs dargs = args_of(dq, dlayer, &dlayout, dbias, dout);
  ok(cpu_kernels()->paged_attention_ex(&hargs, nullptr));
  ok(cuda_kernels()->paged_attention_ex(&dargs, stream()));
  expect_close(dout, hout, dt);
}

}  // namespace

TEST_CASE("kv_cache_write and paged attention match the CPU over a mixed prefill/decode batch") {
  // A prefill of 9, a decode step at length 37, a prefill chunk of 5 ending at 20; GQA 4:2; block size 4.
  const PagedBatch batch{4, 40, 4, 2, 32, 12, {{9, 9}, {1, 37}, {5, 20}}};
  for (MmrtDataType dt : kDtypes) {
    CAPTURE(name_of(dt));
    check_paged(batch, dt, 31);
  }
  // MHA with head_dim 128 and many single-token decodes.
  const PagedBatch decode{16, 64, 8, 8, 128, 8, {{1, 1}, {1, 17}, {1, 100}, {1, 33}, {2, 64}}};
  check_paged(decode, backend::kBF16, 41);
}

TEST_CASE("a long decode is split over the context and merged exactly") {
  // One sequence, capacity 2048 keys: few blocks for the grid, so the plan splits the context.
  const PagedBatch batch{16, 128, 8, 2, 64, 128, {{1, 1500}}};
  const cuda::PagedAttentionShape shape{1, 1, 8, 2, 64, 128, 16, 128};
  const cuda::PagedAttentionPlan plan = cuda::plan_paged_attention(shape, backend::cuda_sm_count(0));
  CHECK(plan.n_splits > 1);
  CHECK(plan.workspace_bytes > 0);
  for (MmrtDataType dt : kDtypes) {
    CAPTURE(name_of(dt));
    check_paged(batch, dt, 51);
  }
  // A short sequence under the same split plan: most parts see no key.
  check_paged(PagedBatch{16, 128, 8, 2, 64, 128, {{1, 3}}}, kF32, 61);
}

TEST_CASE("paged_attention_ex: cross attention without the mask and T5's relative bias match the CPU") {
  // Decoder rows over encoder memories: more rows than keys, fewer, one decode row; block size 4.
  const PagedBatch cross{4, 40, 6, 2, 40, 12, {{3, 17}, {9, 4}, {1, 45}, {6, 6}}};
  // Self attention with distances beyond max_distance.
  const PagedBatch self{16, 64, 4, 4, 64, 16, {{1, 200}, {7, 7}, {13, 40}}};
  for (MmrtDataType dt : kDtypes) {
    CAPTURE(name_of(dt));
    check_paged(cross, dt, 71, PagedMode{false, 0, 0, false});
    check_paged(cross, dt, 72, PagedMode{false, 32, 128, true});  // T5 encoder-style, bidirectional
    check_paged(self, dt, 73, PagedMode{true, 32, 128, false});   // T5 decoder self attention
    check_paged(self, dt, 74, PagedMode{true, 7, 20, true});      // odd bucket count
  }
  // The split-context plan with a bias and without the mask.
  check_paged(PagedBatch{16, 128, 8, 2, 64, 128, {{1, 1500}}}, kF32, 75, PagedMode{true, 32, 128, false});
  check_paged(PagedBatch{16, 128, 8, 2, 64, 128, {{2, 1500}}}, kF32, 76, PagedMode{false, 32, 128, true});
}

namespace {

// attention_varlen over sequences of (n_q, n_k) on both tables; bias_period 0: no bias.
void check_varlen(const std::vector<std::pair<int32_t, int32_t>>& sizes, int64_t n_head, int64_t n_head_kv,
                  int64_t head_dim, bool causal, int32_t bias_period, MmrtDataType dt, uint32_t seed) {
  std::vector<int32_t> cu_q{0}, cu_k{0};
  for (const auto& [n_q, n_k] : sizes) {
    cu_q.push_back(cu_q.back() + n_q);
    cu_k.push_back(cu_k.back() + n_k);
  }
  const int64_t total_q = cu_q.back(), total_k = cu_k.back();
  const auto q = inputs(dt, total_q * n_head * head_dim, seed),
             k = inputs(dt, total_k * n_head_kv * head_dim, seed + 1),
             v = inputs(dt, total_k * n_head_kv * head_dim, seed + 2);
  const int64_t bias_n =
      bias_period > 0 ? int64_t(bias_period) * n_head * sizes[0].first * sizes[0].second : 1;
  const auto bias = cpu::test::random_normal(bias_n, seed + 3, 2.0f);
  const std::vector<int64_t> bias_shape = {std::max(bias_period, 1), n_head, sizes[0].first, sizes[0].second};
  Tensor hq = host_f32({total_q, n_head, head_dim}, q),
         dq = device_tensor(dt, {total_q, n_head, head_dim}, q);
  Tensor hk = host_f32({total_k, n_head_kv, head_dim}, k),
         dk = device_tensor(dt, {total_k, n_head_kv, head_dim}, k);
  Tensor hv = host_f32({total_k, n_head_kv, head_dim}, v),
         dv = device_tensor(dt, {total_k, n_head_kv, head_dim}, v);
  Tensor hb = host_f32(bias_period > 0 ? bias_shape : std::vector<int64_t>{1}, bias);
  Tensor db = device_tensor(kF32, bias_period > 0 ? bias_shape : std::vector<int64_t>{1}, bias);
  Tensor hout = host_f32({total_q, n_head, head_dim}, std::vector<float>(q.size()));
  Tensor dout(kGpu, dt, {total_q, n_head, head_dim});
  auto args_of = [&](Tensor& q_, Tensor& k_, Tensor& v_, Tensor& b_, Tensor& out) {
    MmrtVarlenAttentionArgs a{};
    a.struct_size = MMRT_SIZEOF(MmrtVarlenAttentionArgs, out);
    a.q = q_.get();
    a.k = k_.get();
    a.v = v_.get();
    a.n_seqs = int32_t(sizes.size());
    a.cu_q_host = cu_q.data();
    a.cu_k_host = cu_k.data();
    a.bias = bias_period > 0 ? b_.get() : nullptr;
    a.bias_period = bias_period;
    a.scale = 1.0f / std::sqrt(float(head_dim));
    a.causal = causal ? 1 : 0;
    a.out = out.get();
    return a;
  };
  const MmrtVarlenAttentionArgs hargs = args_of(hq, hk, hv, hb, hout), dargs = args_of(dq, dk, dv, db, dout);
  ok(cpu_kernels()->attention_varlen(&hargs, nullptr));
  ok(cuda_kernels()->attention_varlen(&dargs, stream()));
  expect_close(dout, hout, dt);
}

}  // namespace

TEST_CASE("attention_varlen matches the CPU: odd sizes, empty sequences, GQA, causal, Swin windows") {
  const std::vector<std::pair<int32_t, int32_t>> sizes = {{5, 5}, {1, 9}, {0, 3},  {17, 17},
                                                          {4, 0}, {9, 2}, {33, 40}};
  for (MmrtDataType dt : kDtypes) {
    CAPTURE(name_of(dt));
    check_varlen(sizes, 8, 2, 64, false, 0, dt, 81);
    check_varlen(sizes, 3, 3, 40, true, 0, dt, 82);
    // Two images of 64 windows of 49 tokens, one bias per window of an image.
    check_varlen(std::vector<std::pair<int32_t, int32_t>>(128, {49, 49}), 4, 4, 32, false, 64, dt, 83);
  }
}
