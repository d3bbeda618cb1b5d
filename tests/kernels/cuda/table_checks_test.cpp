// What needs no GPU: the pool's size classes, the contract refusing bad device arguments in the dispatch
// table, the CUDA table's own checks (stream, head_dim) before it touches the device, and the dispatch
// table routing by device, the 1.1 slots included. Runs in every CUDA build, GPU or not.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "core/backend/cpu_kernels.hpp"
#include "core/backend/cuda_allocator.hpp"
#include "core/backend/cuda_kernels.hpp"
#include "core/backend/kernels_dispatch.hpp"
#include "core/backend/tensor.hpp"
#include "core/plugin/status.hpp"
#include "tests/support/fake_device_tensor.hpp"

using namespace mmrt::backend;
using mmrt::test::FakeDeviceTensor;

namespace {

struct Result {
  int32_t code;
  std::string message;
};

Result result_of(MmrtStatus* status) {
  mmrt::plugin::StatusPtr owned(status);
  return owned ? Result{owned->code, owned->message} : Result{MMRT_STATUS_OK, ""};
}

}  // namespace

TEST_CASE("size classes round up by at most a quarter, to 2 MiB above 32 MiB") {
  CHECK(cuda_size_class(0) == 512);
  CHECK(cuda_size_class(512) == 512);
  CHECK(cuda_size_class(513) == 640);
  CHECK(cuda_size_class(1024) == 1024);
  CHECK(cuda_size_class(1025) == 1280);
  for (uint64_t bytes : {777ull, 4097ull, 99999ull, 3ull << 20, (32ull << 20) - 1}) {
    const uint64_t c = cuda_size_class(bytes);
    CHECK(c >= bytes);
    CHECK(c <= bytes + bytes / 4 + 512);
  }
  CHECK(cuda_size_class(33ull << 20) == 34ull << 20);
  CHECK(cuda_size_class((34ull << 20) + 1) == 36ull << 20);
}

TEST_CASE("the contract refuses bad device arguments with INVALID_ARGUMENT before the CUDA table runs") {
  FakeDeviceTensor x({4, 8}), w({16, 8}), y({4, 16});
  const MmrtStream cuda_stream_on_0{MMRT_DEVICE_CUDA, 0, reinterpret_cast<void*>(0x1)};
  const MmrtKernels& k = *dispatch_kernels();
  // Mixed dtypes.
  FakeDeviceTensor w32({16, 8}, kF32);
  Result r = result_of(k.linear(&x.t, &w32.t, nullptr, &y.t, &cuda_stream_on_0));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("linear: w: f32 weights with bf16 activations are not supported on cuda:0") !=
        std::string::npos);
  FakeDeviceTensor b32({16}, kF32);
  r = result_of(k.linear(&x.t, &w.t, &b32.t, &y.t, &cuda_stream_on_0));
  CHECK(r.message.find("linear: bias: dtype f32 differs from the op's bf16") != std::string::npos);
  // Tensors on two GPUs.
  FakeDeviceTensor y1({4, 16}, kBF16, 1);
  r = result_of(k.linear(&x.t, &w.t, nullptr, &y1.t, &cuda_stream_on_0));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("y is on cuda:1, the call's other tensors on cuda:0") != std::string::npos);
  // A host tensor among device ones.
  Tensor host_ids({MMRT_DEVICE_CPU, 0}, kI32, {4});
  FakeDeviceTensor table({10, 8}), out({4, 8});
  r = result_of(k.embedding(&table.t, host_ids.get(), &out.t, &cuda_stream_on_0));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("ids is on the CPU, the call's other tensors on cuda:0") != std::string::npos);
  // Shapes.
  FakeDeviceTensor bad_y({4, 15});
  r = result_of(k.linear(&x.t, &w.t, nullptr, &bad_y.t, &cuda_stream_on_0));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("linear: y [4, 15]") != std::string::npos);
  // linear's aliasing rule is the same on both backends: y never overlaps x.
  FakeDeviceTensor square({8, 8});
  r = result_of(k.linear(&square.t, &square.t, nullptr, &square.t, &cuda_stream_on_0));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("y must not overlap x") != std::string::npos);
}

TEST_CASE("the CUDA table checks its stream and the head sizes its kernels hold") {
  FakeDeviceTensor x({4, 8}), w({16, 8}), y({4, 16});
  const MmrtStream cuda_stream_on_1{MMRT_DEVICE_CUDA, 1, reinterpret_cast<void*>(0x1)};
  // No stream: the legacy default stream is never used.
  Result r = result_of(dispatch_kernels()->linear(&x.t, &w.t, nullptr, &y.t, nullptr));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("CUDA stream") != std::string::npos);
  // A stream of another GPU.
  r = result_of(dispatch_kernels()->linear(&x.t, &w.t, nullptr, &y.t, &cuda_stream_on_1));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("the stream is on cuda:1, the tensors on cuda:0") != std::string::npos);
  // A head larger than the attention kernels hold.
  FakeDeviceTensor q({2, 1, 512}), k({2, 1, 512}), out({2, 1, 512});
  r = result_of(dispatch_kernels()->attention(&q.t, &k.t, &k.t, nullptr, 1.0f, 1, &out.t, &cuda_stream_on_1));
  CHECK(r.code == MMRT_STATUS_UNIMPLEMENTED);
  const int32_t cu[2] = {0, 2};
  MmrtVarlenAttentionArgs varlen{};
  varlen.struct_size = MMRT_SIZEOF(MmrtVarlenAttentionArgs, out);
  varlen.q = &q.t;
  varlen.k = &k.t;
  varlen.v = &k.t;
  varlen.n_seqs = 1;
  varlen.cu_q_host = cu;
  varlen.cu_k_host = cu;
  varlen.out = &out.t;
  r = result_of(dispatch_kernels()->attention_varlen(&varlen, &cuda_stream_on_1));
  CHECK(r.code == MMRT_STATUS_UNIMPLEMENTED);
  CHECK(r.message.find("attention_varlen: head_dim 512") != std::string::npos);
}

TEST_CASE("the 1.1 slots reach the CUDA table through the dispatch") {
  FakeDeviceTensor gate({3, 5}), up({3, 5}), y({3, 5});
  Result r =
      result_of(dispatch_kernels()->gated_activation(MMRT_ACT_GELU_TANH, &gate.t, &up.t, &y.t, nullptr));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("gated_activation: needs a CUDA stream") != std::string::npos);

  FakeDeviceTensor q({3, 2, 4}), out({3, 2, 4}), k_cache({2, 4, 1, 4}), v_cache({2, 4, 1, 4});
  FakeDeviceTensor qs({2}, kI32), lens({1}, kI32), tables({1, 2}, kI32), rel_bias({8, 2}, kF32);
  MmrtBatchLayout layout{};
  layout.struct_size = MMRT_SIZEOF(MmrtBatchLayout, slot_mapping);
  layout.n_seqs = 1;
  layout.block_size = 4;
  layout.query_start = &qs.t;
  layout.seq_lens = &lens.t;
  layout.block_tables = &tables.t;
  MmrtPagedAttentionArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtPagedAttentionArgs, out);
  args.q = &q.t;
  args.layer = {&k_cache.t, &v_cache.t};
  args.layout = &layout;
  args.causal = 0;
  args.rel_bias = &rel_bias.t;
  args.n_buckets = 8;
  args.max_distance = 16;
  args.bidirectional = 1;
  args.out = &out.t;
  r = result_of(dispatch_kernels()->paged_attention_ex(&args, nullptr));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("paged_attention_ex: needs a CUDA stream") != std::string::npos);
  // The bias table is f32 whatever the activation dtype.
  FakeDeviceTensor bf16_bias({8, 2}, kBF16);
  args.rel_bias = &bf16_bias.t;
  r = result_of(dispatch_kernels()->paged_attention_ex(&args, nullptr));
  CHECK(r.message.find("paged_attention_ex: rel_bias: expected f32, got bf16") != std::string::npos);
}

TEST_CASE("the dispatch table sends CPU tensors to the CPU and CUDA tensors to the CUDA table") {
  const MmrtDevice cpu{MMRT_DEVICE_CPU, 0};
  Tensor x(cpu, kF32, {1, 2}), w(cpu, kF32, {1, 2}), y(cpu, kF32, {1, 1});
  x.data_as<float>()[0] = 2;
  x.data_as<float>()[1] = 3;
  w.data_as<float>()[0] = 5;
  w.data_as<float>()[1] = 7;
  CHECK(result_of(dispatch_kernels()->linear(x.get(), w.get(), nullptr, y.get(), nullptr)).code ==
        MMRT_STATUS_OK);
  CHECK(y.data_as<float>()[0] == 31.0f);

  FakeDeviceTensor dx({1, 2}, kF32), dw({1, 2}, kF32), dy({1, 1}, kF32);
  const Result r = result_of(dispatch_kernels()->linear(&dx.t, &dw.t, nullptr, &dy.t, nullptr));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("CUDA stream") != std::string::npos);  // past the contract, the CUDA table answered
  // copy goes to CUDA when either side is on the device (the CPU table would refuse the device tensor).
  const Result c = result_of(dispatch_kernels()->copy(x.get(), &dx.t, nullptr));
  CHECK(c.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(c.message.find("CUDA stream") != std::string::npos);
}
