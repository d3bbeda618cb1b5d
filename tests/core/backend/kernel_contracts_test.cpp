// The contract every kernel slot is checked against once, in the dispatch table (kernel_contracts.hpp):
// bad shapes, dtype mismatches, mixed devices and forbidden aliasing come back INVALID_ARGUMENT with a
// message naming the op and the operand; the aliasing the header allows ("y may be x") goes through. Then
// the 1.1 slots through the table against the CPU kernels called directly.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/backend/cuda_kernels.hpp"
#include "core/backend/kernel_contracts.hpp"
#include "core/backend/kernels_dispatch.hpp"
#include "core/backend/status.hpp"
#include "core/backend/tensor.hpp"
#include "core/plugin/status.hpp"
#include "kernels/cpu/ops.hpp"
#include "tests/kernels/kernel_test_util.hpp"
#include "tests/support/fake_device_tensor.hpp"

using namespace mmrt::backend;
using mmrt::test::FakeDeviceTensor;

namespace {

const MmrtDevice kCpu{MMRT_DEVICE_CPU, 0};
const MmrtKernels& k = *dispatch_kernels();

struct Result {
  int32_t code;
  std::string message;
  bool names(const std::string& text) const { return message.find(text) != std::string::npos; }
};

Result result_of(MmrtStatus* status) {
  mmrt::plugin::StatusPtr owned(status);
  return owned ? Result{owned->code, owned->message} : Result{MMRT_STATUS_OK, ""};
}

// INVALID_ARGUMENT whose message starts with the op and names `text`.
void expect_refused(MmrtStatus* status, const std::string& op, const std::string& text) {
  const Result r = result_of(status);
  INFO("message: " << r.message);
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.rfind(op + ": ", 0) == 0);
  CHECK(r.names(text));
}

void expect_ok(MmrtStatus* status) {
  const Result r = result_of(status);
  INFO("message: " << r.message);
  CHECK(r.code == MMRT_STATUS_OK);
}

Tensor filled(std::vector<int64_t> shape, uint32_t seed, MmrtDataType dtype = kF32) {
  Tensor t(kCpu, dtype, std::move(shape));
  if (dtype == kF32) {
    const std::vector<float> v = mmrt::cpu::test::random_normal(t.numel(), seed);
    std::copy(v.begin(), v.end(), t.data_as<float>());
  }
  return t;
}

// A view of `t`'s memory starting `row_offset` rows in, with its own shape (to build overlapping operands).
struct View {
  View(const Tensor& t, std::vector<int64_t> dims, int64_t row_offset = 0) : shape(std::move(dims)) {
    v = t.view();
    v.ndim = int32_t(shape.size());
    v.shape = shape.data();
    v.byte_offset = uint64_t(row_offset * shape.back()) * dtype_size(t.dtype());
  }
  std::vector<int64_t> shape;
  MmrtTensor v{};
  MmrtTensor* get() { return &v; }
};

}  // namespace

TEST_CASE("bad shapes are refused naming the op and the operand") {
  Tensor x = filled({2, 3}, 1), w = filled({4, 3}, 2), y = filled({2, 5}, 3), b = filled({3}, 4);
  expect_refused(k.linear(x.get(), w.get(), nullptr, y.get(), nullptr), "linear", "y [2, 5]");
  Tensor y_ok = filled({2, 4}, 5);
  expect_refused(k.linear(x.get(), w.get(), b.get(), y_ok.get(), nullptr), "linear", "bias [3]");
  expect_refused(k.linear(w.get(), w.get(), nullptr, y_ok.get(), nullptr), "linear", "y [2, 4]");
  expect_refused(k.layer_norm(x.get(), b.get(), w.get(), 1e-5f, y_ok.get(), nullptr), "layer_norm",
                 "y [2, 4]");
  Tensor q = filled({3, 3, 4}, 6), kv = filled({5, 2, 4}, 7), out = filled({3, 3, 4}, 8);
  expect_refused(k.attention(q.get(), kv.get(), kv.get(), nullptr, 1.0f, 0, out.get(), nullptr), "attention",
                 "not a multiple of the kv heads");
  Tensor kv_d = filled({5, 3, 5}, 9);
  expect_refused(k.attention(q.get(), kv_d.get(), kv_d.get(), nullptr, 1.0f, 0, out.get(), nullptr),
                 "attention", "k: expected dim 2 = 4");
  Tensor ids(kCpu, kI32, {2});
  expect_refused(k.embedding(w.get(), ids.get(), y.get(), nullptr), "embedding", "out [2, 5]");
}

TEST_CASE("dtype mismatches and dtypes the device does not compute in are refused") {
  Tensor x = filled({2, 3}, 1), w = filled({4, 3}, 2), y = filled({2, 4}, 3);
  Tensor bias_i32(kCpu, kI32, {4});
  expect_refused(k.linear(x.get(), w.get(), bias_i32.get(), y.get(), nullptr), "linear",
                 "bias: dtype i32 differs from the op's f32");
  Tensor x_bf16(kCpu, kBF16, {2, 3});
  expect_refused(k.linear(x_bf16.get(), w.get(), nullptr, y.get(), nullptr), "linear",
                 "x: bf16 activations are not computed on the CPU");
  Tensor ids_f32(kCpu, kF32, {2});
  expect_refused(k.embedding(w.get(), ids_f32.get(), x.get(), nullptr), "embedding",
                 "ids: expected i32, got f32");
  Tensor positions_i64(kCpu, kI64, {2});
  Tensor xr = filled({2, 1, 4}, 4), inv_freq = filled({2}, 5);
  expect_refused(k.rope(xr.get(), positions_i64.get(), inv_freq.get(), nullptr, 1.0f, nullptr), "rope",
                 "positions: expected i32");
  Tensor f16(kCpu, kF16, {2, 3});
  expect_refused(k.copy(x.get(), f16.get(), nullptr), "copy",
                 "dst: f16 is not an activation dtype of the CPU");
}

TEST_CASE(
    "the weight rule: bf16/f16 weights under f32 activations on the CPU, the activation dtype elsewhere") {
  FakeDeviceTensor cx({2, 3}, kF32), cw_bf16({4, 3}, kBF16), cy({2, 4}, kF32);
  Tensor x = filled({2, 3}, 1), y = filled({2, 4}, 2);
  Tensor w_bf16(kCpu, kBF16, {4, 3}), w_f16(kCpu, kF16, {4, 3}), w_i32(kCpu, kI32, {4, 3});
  CHECK(contracts::linear(x.get(), w_bf16.get(), nullptr, y.get(), nullptr).device_type == MMRT_DEVICE_CPU);
  CHECK(contracts::linear(x.get(), w_f16.get(), nullptr, y.get(), nullptr).device_type == MMRT_DEVICE_CPU);
  Tensor ids(kCpu, kI32, {2}), rows = filled({2, 3}, 3);
  CHECK(contracts::embedding(w_bf16.get(), ids.get(), rows.get(), nullptr).device_type == MMRT_DEVICE_CPU);
  expect_refused(k.linear(x.get(), w_i32.get(), nullptr, y.get(), nullptr), "linear",
                 "w: i32 weights with f32 activations are not supported on the CPU");
  CHECK_THROWS_WITH_AS(contracts::linear(&cx.t, &cw_bf16.t, nullptr, &cy.t, nullptr),
                       doctest::Contains("w: bf16 weights with f32 activations are not supported on cuda:0"),
                       StatusError);
}

TEST_CASE("every tensor of a call is on one device") {
  Tensor x = filled({2, 3}, 1), y = filled({2, 4}, 2);
  FakeDeviceTensor w({4, 3}, kF32);
  expect_refused(k.linear(x.get(), &w.t, nullptr, y.get(), nullptr), "linear",
                 "w is on cuda:0, the call's other tensors on the CPU");
  FakeDeviceTensor cx({2, 3}, kF32), cy({2, 4}, kF32);
  const Result r = result_of(k.linear(&cx.t, &w.t, nullptr, &cy.t, nullptr));
  if (cuda_kernels() == nullptr) {
    CHECK(r.code == MMRT_STATUS_UNAVAILABLE);
    CHECK(r.names("linear: the tensors are on CUDA but this build has no CUDA backend"));
  } else {
    CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
    CHECK(r.names("CUDA stream"));  // past the contract, the CUDA table's own check answered
  }
  MmrtTensor elsewhere = x.view();
  elsewhere.device = {7, 0};
  expect_refused(k.scale(&elsewhere, 2.0f, nullptr), "scale", "x is on device type 7, which has no kernels");
}

TEST_CASE("aliasing: an output may be an input only where the header says so, and only as the same view") {
  Tensor a = filled({4, 3}, 1), b = filled({4, 3}, 2), w = filled({3, 3}, 3), big = filled({6, 3}, 4);
  // linear, the norms and attention never alias.
  expect_refused(k.linear(a.get(), w.get(), nullptr, a.get(), nullptr), "linear", "y must not overlap x");
  Tensor square = filled({3, 3}, 6);
  expect_refused(k.linear(square.get(), w.get(), nullptr, w.get(), nullptr), "linear",
                 "y must not overlap w");
  expect_refused(k.rms_norm(a.get(), nullptr, 1e-6f, a.get(), nullptr), "rms_norm", "y must not overlap x");
  expect_refused(k.layer_norm(a.get(), nullptr, nullptr, 1e-6f, a.get(), nullptr), "layer_norm",
                 "y must not overlap x");
  Tensor q = filled({2, 1, 3}, 5);
  expect_refused(k.attention(q.get(), q.get(), q.get(), nullptr, 1.0f, 0, q.get(), nullptr), "attention",
                 "out must not overlap q");
  // "y may be x" (activation), "y may be a" (add), "y may be gate or up" (silu_mul, gated_activation).
  expect_ok(k.activation(MMRT_ACT_GELU_TANH, a.get(), a.get(), nullptr));
  expect_ok(k.add(a.get(), b.get(), a.get(), nullptr));
  expect_refused(k.add(a.get(), b.get(), b.get(), nullptr), "add", "y must not overlap b");
  expect_ok(k.silu_mul(a.get(), b.get(), a.get(), nullptr));
  expect_ok(k.gated_activation(MMRT_ACT_GELU_TANH, a.get(), b.get(), b.get(), nullptr));
  // ... but not a view shifted by a row.
  View rows_0_3(big, {4, 3}, 0), rows_1_4(big, {4, 3}, 1);
  expect_refused(k.activation(MMRT_ACT_RELU, rows_0_3.get(), rows_1_4.get(), nullptr), "activation",
                 "y overlaps x without being the same view");
  expect_refused(k.gated_activation(MMRT_ACT_SILU, rows_0_3.get(), b.get(), rows_1_4.get(), nullptr),
                 "gated_activation", "y overlaps gate without being the same view");
  // Disjoint views of one buffer are fine.
  View top(big, {2, 3}, 0), bottom(big, {2, 3}, 4);
  expect_ok(k.activation(MMRT_ACT_RELU, top.get(), bottom.get(), nullptr));
  Tensor rows(kCpu, kI32, {2});
  expect_refused(k.gather_rows(big.get(), rows.get(), top.get(), nullptr), "gather_rows",
                 "dst must not overlap src");
}

TEST_CASE("host-memory arguments: activation kinds, mrope sections, flags") {
  Tensor a = filled({4, 3}, 1), b = filled({4, 3}, 2), y = filled({4, 3}, 3);
  expect_refused(k.gated_activation(9, a.get(), b.get(), y.get(), nullptr), "gated_activation",
                 "unknown activation kind 9");
  expect_refused(k.activation(-1, a.get(), y.get(), nullptr), "activation", "unknown activation kind -1");
  Tensor x = filled({2, 1, 8}, 4), inv_freq = filled({4}, 5), positions(kCpu, kI32, {3, 2});
  const int32_t bad_sections[3] = {1, 1, 1};
  expect_refused(k.rope(x.get(), positions.get(), inv_freq.get(), bad_sections, 1.0f, nullptr), "rope",
                 "mrope_section {1, 1, 1}");
  Tensor q = filled({2, 1, 3}, 6), kv = filled({2, 1, 3}, 7), out = filled({2, 1, 3}, 8);
  expect_refused(k.attention(q.get(), kv.get(), kv.get(), nullptr, 1.0f, 2, out.get(), nullptr), "attention",
                 "causal must be 0 or 1");
}

namespace {

// A one-sequence paged batch over a cache of 2 blocks of 4 slots, 2 kv heads of head_dim 4.
struct PagedFixture {
  Tensor k_cache = filled({2, 4, 2, 4}, 11), v_cache = filled({2, 4, 2, 4}, 12);
  Tensor q = filled({3, 4, 4}, 13), out{kCpu, kF32, {3, 4, 4}};
  Tensor query_start{kCpu, kI32, {2}}, seq_lens{kCpu, kI32, {1}}, block_tables{kCpu, kI32, {1, 2}};
  Tensor rel_bias = filled({8, 4}, 14);
  MmrtBatchLayout layout{};
  MmrtPagedAttentionArgs args{};

  explicit PagedFixture(int32_t seq_len) {
    query_start.data_as<int32_t>()[1] = 3;
    seq_lens.data_as<int32_t>()[0] = seq_len;
    block_tables.data_as<int32_t>()[0] = 1;
    block_tables.data_as<int32_t>()[1] = 0;
    layout.struct_size = MMRT_SIZEOF(MmrtBatchLayout, slot_mapping);
    layout.n_seqs = 1;
    layout.block_size = 4;
    layout.query_start = query_start.get();
    layout.seq_lens = seq_lens.get();
    layout.block_tables = block_tables.get();
    args.struct_size = MMRT_SIZEOF(MmrtPagedAttentionArgs, out);
    args.q = q.get();
    args.layer = {k_cache.get(), v_cache.get()};
    args.layout = &layout;
    args.scale = 0.5f;
    args.causal = 1;
    args.out = out.get();
  }
  void use_bias(int32_t n_buckets, int32_t max_distance, int32_t bidirectional) {
    args.rel_bias = rel_bias.get();
    args.n_buckets = n_buckets;
    args.max_distance = max_distance;
    args.bidirectional = bidirectional;
  }
};

}  // namespace

TEST_CASE("paged_attention_ex: args, flags, the bias table and aliasing are checked") {
  PagedFixture f(6);
  expect_refused(k.paged_attention_ex(nullptr, nullptr), "paged_attention_ex", "args is NULL");
  f.args.struct_size = MMRT_SIZEOF(MmrtPagedAttentionArgs, bidirectional);
  expect_refused(k.paged_attention_ex(&f.args, nullptr), "paged_attention_ex", "does not reach out");
  f.args.struct_size = MMRT_SIZEOF(MmrtPagedAttentionArgs, out);
  f.args.causal = 3;
  expect_refused(k.paged_attention_ex(&f.args, nullptr), "paged_attention_ex", "causal must be 0 or 1");
  f.args.causal = 1;
  f.use_bias(6, 20, 1);
  expect_refused(k.paged_attention_ex(&f.args, nullptr), "paged_attention_ex",
                 "rel_bias: expected dim 0 = 6");
  f.use_bias(8, 2, 1);
  expect_refused(k.paged_attention_ex(&f.args, nullptr), "paged_attention_ex", "rel_bias: max_distance 2");
  f.use_bias(8, 20, 2);
  expect_refused(k.paged_attention_ex(&f.args, nullptr), "paged_attention_ex",
                 "bidirectional must be 0 or 1");
  f.use_bias(8, 20, 1);
  expect_ok(k.paged_attention_ex(&f.args, nullptr));
  f.args.out = f.q.get();
  expect_refused(k.paged_attention_ex(&f.args, nullptr), "paged_attention_ex", "out must not overlap q");
  f.args.out = f.out.get();
  Tensor narrow_q = filled({3, 3, 4}, 15), narrow_out(kCpu, kF32, {3, 3, 4});
  f.args.q = narrow_q.get();
  f.args.out = narrow_out.get();
  expect_refused(k.paged_attention_ex(&f.args, nullptr), "paged_attention_ex",
                 "not a multiple of the kv heads");
}

TEST_CASE("paged_attention_ex through the table equals the CPU kernel; paged_attention is its causal case") {
  for (int32_t causal : {1, 0}) {
    for (bool with_bias : {false, true}) {
      CAPTURE(causal);
      CAPTURE(with_bias);
      PagedFixture f(causal ? 6 : 2);  // cross attention: fewer keys than query rows
      f.args.causal = causal;
      if (with_bias) f.use_bias(8, 20, causal ? 0 : 1);
      expect_ok(k.paged_attention_ex(&f.args, nullptr));
      const mmrt::cpu::RelativePositionBias bias{f.rel_bias.data_as<float>(),
                                                 mmrt::cpu::relative_buckets(8, 20, causal == 0)};
      std::vector<float> want(size_t(f.out.numel()));
      mmrt::cpu::paged_attention(f.q.data_as<float>(), f.k_cache.data_as<float>(), f.v_cache.data_as<float>(),
                                 want.data(), f.query_start.data_as<int32_t>(), f.seq_lens.data_as<int32_t>(),
                                 f.block_tables.data_as<int32_t>(), 1, 2, 4, 4, 2, 4, 0.5f, causal != 0,
                                 with_bias ? &bias : nullptr);
      for (size_t i = 0; i < want.size(); ++i) CHECK(f.out.data_as<float>()[i] == want[i]);
      if (causal && !with_bias) {
        Tensor out10(kCpu, kF32, {3, 4, 4});
        expect_ok(k.paged_attention(f.q.get(), f.args.layer, &f.layout, 0.5f, out10.get(), nullptr));
        for (size_t i = 0; i < want.size(); ++i) CHECK(out10.data_as<float>()[i] == want[i]);
      }
    }
  }
  // A causal batch with more rows than keys is refused by the CPU backend, which reads the lengths.
  PagedFixture short_seq(2);
  const Result r = result_of(k.paged_attention_ex(&short_seq.args, nullptr));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.names("sequence 0 has 3 query tokens but seq_len 2"));
}

namespace {

// Three sequences of 2 heads over 1 kv head, head_dim 4: sizes (2, 3), (0, 1), (3, 3).
struct VarlenFixture {
  Tensor q = filled({5, 2, 4}, 21), k_ = filled({7, 1, 4}, 22), v = filled({7, 1, 4}, 23);
  Tensor out{kCpu, kF32, {5, 2, 4}};
  int32_t cu_q[4] = {0, 2, 2, 5};
  int32_t cu_k[4] = {0, 3, 4, 7};
  MmrtVarlenAttentionArgs args{};
  VarlenFixture() {
    args.struct_size = MMRT_SIZEOF(MmrtVarlenAttentionArgs, out);
    args.q = q.get();
    args.k = k_.get();
    args.v = v.get();
    args.n_seqs = 3;
    args.cu_q_host = cu_q;
    args.cu_k_host = cu_k;
    args.scale = 0.5f;
    args.out = out.get();
  }
};

}  // namespace

TEST_CASE("attention_varlen: offsets, the shared bias and aliasing are checked on the host") {
  VarlenFixture f;
  expect_ok(k.attention_varlen(&f.args, nullptr));
  f.cu_q[3] = 4;
  expect_refused(k.attention_varlen(&f.args, nullptr), "attention_varlen",
                 "cu_q_host[3] is 4 but the tensor has 5 rows");
  f.cu_q[3] = 5;
  f.cu_k[2] = 2;
  expect_refused(k.attention_varlen(&f.args, nullptr), "attention_varlen",
                 "cu_k_host decreases at sequence 1");
  f.cu_k[2] = 4;
  f.args.cu_q_host = nullptr;
  expect_refused(k.attention_varlen(&f.args, nullptr), "attention_varlen", "cu_q_host is NULL");
  f.args.cu_q_host = f.cu_q;
  Tensor bias = filled({3, 2, 2, 3}, 24);
  f.args.bias = bias.get();
  f.args.bias_period = 3;
  expect_refused(k.attention_varlen(&f.args, nullptr), "attention_varlen",
                 "sequence 1 is 0 x 1 but the shared bias [3, 2, 2, 3] is 2 x 3");
  f.args.bias_period = 2;
  expect_refused(k.attention_varlen(&f.args, nullptr), "attention_varlen", "with bias_period 2");
  f.args.bias = nullptr;
  f.args.out = f.q.get();
  expect_refused(k.attention_varlen(&f.args, nullptr), "attention_varlen", "out must not overlap q");
}

TEST_CASE("attention_varlen through the table equals dense attention per sequence") {
  for (int32_t causal : {0, 1}) {
    VarlenFixture f;
    f.args.causal = causal;
    expect_ok(k.attention_varlen(&f.args, nullptr));
    for (int s = 0; s < 3; ++s) {
      const int64_t n_q = f.cu_q[s + 1] - f.cu_q[s], n_k = f.cu_k[s + 1] - f.cu_k[s];
      std::vector<float> want(size_t(n_q * 8));
      mmrt::cpu::attention(f.q.data_as<float>() + f.cu_q[s] * 8, f.k_.data_as<float>() + f.cu_k[s] * 4,
                           f.v.data_as<float>() + f.cu_k[s] * 4, want.data(), n_q, n_k, 2, 1, 4, 0.5f,
                           causal != 0, nullptr);
      for (size_t i = 0; i < want.size(); ++i) CHECK(f.out.data_as<float>()[f.cu_q[s] * 8 + i] == want[i]);
    }
  }
}

TEST_CASE("gated_activation through the table: act(gate) * up for T5's gated GELU") {
  Tensor gate = filled({3, 5}, 31), up = filled({3, 5}, 32), y(kCpu, kF32, {3, 5});
  expect_ok(k.gated_activation(MMRT_ACT_GELU_TANH, gate.get(), up.get(), y.get(), nullptr));
  for (int64_t i = 0; i < 15; ++i) {
    const double g = gate.data_as<float>()[i];
    const double gelu = 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g)));
    CHECK(y.data_as<float>()[i] == doctest::Approx(gelu * up.data_as<float>()[i]).epsilon(1e-6));
  }
}
