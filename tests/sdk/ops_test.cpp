// The SDK's Ops wrappers of the 1.1 kernel slots against a recording kernel table: what each wrapper passes
// (the args structs filled and sized), that a kernel's failure throws with the kernel's name, and that a
// host without the slot gives UNIMPLEMENTED instead of a call through NULL.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fake_host.hpp"
#include "mmrt/ops.hpp"

using mmrt::sdk::Ops;
using mmrt::sdk::TensorView;
using mmrt::test::FakeHost;

namespace {

const MmrtDevice kCpu{MMRT_DEVICE_CPU, 0};
const MmrtDataType kF32{MMRT_DTYPE_FLOAT, 32, 1};

// What the recording slots saw last.
struct Seen {
  int32_t kind = -1;
  const MmrtTensor* gate = nullptr;
  const MmrtTensor* up = nullptr;
  const MmrtTensor* y = nullptr;
  MmrtPagedAttentionArgs paged{};
  const void* rel_bias_data = nullptr;  // the views of a call are gone once it returns
  MmrtVarlenAttentionArgs varlen{};
  std::vector<int32_t> cu_q, cu_k;
  const MmrtStream* stream = nullptr;
  bool fail = false;
};
Seen seen;

MmrtStatus* failure() {
  return seen.fail ? FakeHost::status_new(MMRT_STATUS_INVALID_ARGUMENT, "bad operand", 11) : nullptr;
}

MmrtStatus* gated_activation(int32_t kind, const MmrtTensor* gate, const MmrtTensor* up, MmrtTensor* y,
                             const MmrtStream* stream) {
  seen.kind = kind;
  seen.gate = gate;
  seen.up = up;
  seen.y = y;
  seen.stream = stream;
  return failure();
}

MmrtStatus* paged_attention_ex(const MmrtPagedAttentionArgs* args, const MmrtStream* stream) {
  seen.paged = *args;
  seen.rel_bias_data = args->rel_bias != nullptr ? args->rel_bias->data : nullptr;
  seen.stream = stream;
  return failure();
}

MmrtStatus* attention_varlen(const MmrtVarlenAttentionArgs* args, const MmrtStream* stream) {
  seen.varlen = *args;
  seen.cu_q.assign(args->cu_q_host, args->cu_q_host + args->n_seqs + 1);
  seen.cu_k.assign(args->cu_k_host, args->cu_k_host + args->n_seqs + 1);
  seen.stream = stream;
  return failure();
}

MmrtKernels kernels_1_1() {
  MmrtKernels k{};
  k.struct_size = MMRT_SIZEOF(MmrtKernels, attention_varlen);
  k.gated_activation = &gated_activation;
  k.paged_attention_ex = &paged_attention_ex;
  k.attention_varlen = &attention_varlen;
  return k;
}

struct HostFixture {
  HostFixture() { mmrt::sdk::set_host(&host); }
  ~HostFixture() { mmrt::sdk::set_host(nullptr); }
  MmrtHostApi host = FakeHost::table();
};

}  // namespace

TEST_CASE("gated_activation passes its kind, operands and stream; a failure throws naming the kernel") {
  HostFixture fixture;
  seen = {};
  const MmrtKernels table = kernels_1_1();
  const MmrtStream stream{MMRT_DEVICE_CPU, 0, nullptr};
  const Ops ops(&table, &stream);
  float a[6] = {}, b[6] = {};
  const TensorView gate(a, kCpu, kF32, {2, 3}), up(b, kCpu, kF32, {2, 3});
  ops.gated_activation(MMRT_ACT_GELU_TANH, gate, up, up);
  CHECK(seen.kind == MMRT_ACT_GELU_TANH);
  CHECK(seen.gate->data == a);
  CHECK(seen.up->data == b);
  CHECK(seen.y->data == b);
  CHECK(seen.stream == &stream);
  seen.fail = true;
  try {
    ops.gated_activation(MMRT_ACT_SILU, gate, up, gate);
    FAIL("expected a throw");
  } catch (const mmrt::sdk::Error& e) {
    const std::string message = e.what();
    CHECK(e.code() == MMRT_STATUS_INVALID_ARGUMENT);
    CHECK(message.find("kernel gated_activation(") != std::string::npos);
    CHECK(message.find("bad operand") != std::string::npos);
  }
  CHECK(FakeHost::live_statuses == 0);
}

TEST_CASE("paged_attention_ex fills the args struct: causal switch, relative bias or none") {
  HostFixture fixture;
  seen = {};
  const MmrtKernels table = kernels_1_1();
  const Ops ops(&table, nullptr);
  float q[8] = {}, out[8] = {}, bias[64] = {};
  const TensorView qv(q, kCpu, kF32, {2, 1, 4}), outv(out, kCpu, kF32, {2, 1, 4});
  const TensorView bias_table(bias, kCpu, kF32, {32, 2});
  MmrtBatchLayout layout{};
  const MmrtKvLayer layer{nullptr, nullptr};
  ops.paged_attention_ex(qv, layer, &layout, 0.25f, false, Ops::RelativeBias{bias_table, 32, 128, true},
                         outv);
  CHECK(seen.paged.struct_size == MMRT_SIZEOF(MmrtPagedAttentionArgs, out));
  CHECK(seen.paged.q->data == q);
  CHECK(seen.paged.out->data == out);
  CHECK(seen.paged.layout == &layout);
  CHECK(seen.paged.scale == 0.25f);
  CHECK(seen.paged.causal == 0);
  CHECK(seen.rel_bias_data == bias);
  CHECK(seen.paged.n_buckets == 32);
  CHECK(seen.paged.max_distance == 128);
  CHECK(seen.paged.bidirectional == 1);
  ops.paged_attention_ex(qv, layer, &layout, 0.5f, true, {}, outv);
  CHECK(seen.paged.causal == 1);
  CHECK(seen.paged.rel_bias == nullptr);
}

TEST_CASE("attention_varlen passes the host offsets, the shared bias and its period") {
  HostFixture fixture;
  seen = {};
  const MmrtKernels table = kernels_1_1();
  const Ops ops(&table, nullptr);
  float q[40] = {}, kv[40] = {}, out[40] = {}, bias[2 * 1 * 5 * 5] = {};
  const TensorView qv(q, kCpu, kF32, {10, 1, 4}), kvv(kv, kCpu, kF32, {10, 1, 4}),
      outv(out, kCpu, kF32, {10, 1, 4});
  const TensorView biasv(bias, kCpu, kF32, {2, 1, 5, 5});
  const std::vector<int32_t> cu = {0, 5, 10};
  ops.attention_varlen(qv, kvv, kvv, cu, cu, biasv, 2, 0.5f, true, outv);
  CHECK(seen.varlen.struct_size == MMRT_SIZEOF(MmrtVarlenAttentionArgs, out));
  CHECK(seen.varlen.n_seqs == 2);
  CHECK(seen.cu_q == cu);
  CHECK(seen.cu_k == cu);
  CHECK(seen.varlen.bias->data == bias);
  CHECK(seen.varlen.bias_period == 2);
  CHECK(seen.varlen.causal == 1);
  CHECK(seen.varlen.out->data == out);
  const std::vector<int32_t> short_k = {0, 10};
  CHECK_THROWS_WITH(ops.attention_varlen(qv, kvv, kvv, cu, short_k, {}, 0, 0.5f, false, outv),
                    doctest::Contains("cu_q and cu_k need n_seqs + 1 entries each"));
}

TEST_CASE("a 1.0 host without the 1.1 slots gives UNIMPLEMENTED naming the slot") {
  HostFixture fixture;
  MmrtKernels old_table = kernels_1_1();
  old_table.struct_size = MMRT_SIZEOF(MmrtKernels, scale);
  const Ops ops(&old_table, nullptr);
  float a[4] = {};
  const TensorView t(a, kCpu, kF32, {4});
  try {
    ops.gated_activation(MMRT_ACT_SILU, t, t, t);
    FAIL("expected a throw");
  } catch (const mmrt::sdk::Error& e) {
    CHECK(e.code() == MMRT_STATUS_UNIMPLEMENTED);
    CHECK(std::string(e.what()).find("host lacks kernel gated_activation") != std::string::npos);
  }
}
