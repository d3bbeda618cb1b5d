// What needs no GPU: the pool's size classes, the CUDA table refusing bad arguments before it touches the
// device, and the dispatch table routing by device. Runs in every CUDA build, GPU or not.
#include <doctest/doctest.h>

#include <string>

#include "core/backend/cpu_kernels.hpp"
#include "core/backend/cuda_allocator.hpp"
#include "core/backend/cuda_kernels.hpp"
#include "core/backend/kernels_dispatch.hpp"
#include "core/backend/tensor.hpp"
#include "core/plugin/status.hpp"

using namespace mmrt::backend;

namespace {

struct Result {
  int32_t code;
  std::string message;
};

Result result_of(MmrtStatus* status) {
  mmrt::plugin::StatusPtr owned(status);
  return owned ? Result{owned->code, owned->message} : Result{MMRT_STATUS_OK, ""};
}

// A descriptor that claims to be on the GPU; its data is never dereferenced by the checks under test.
struct FakeDeviceTensor {
  explicit FakeDeviceTensor(std::vector<int64_t> dims, MmrtDataType dtype = kBF16, int32_t device_id = 0)
      : shape(std::move(dims)) {
    t.data = &storage;
    t.device = {MMRT_DEVICE_CUDA, device_id};
    t.ndim = int32_t(shape.size());
    t.dtype = dtype;
    t.shape = shape.data();
  }
  std::vector<int64_t> shape;
  MmrtTensor t{};
  char storage = 0;
};

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

TEST_CASE("the CUDA table refuses bad arguments with INVALID_ARGUMENT before any launch") {
  FakeDeviceTensor x({4, 8}), w({16, 8}), y({4, 16});
  const MmrtStream cuda_stream_on_1{MMRT_DEVICE_CUDA, 1, reinterpret_cast<void*>(0x1)};

  // No stream: the legacy default stream is never used.
  Result r = result_of(cuda_kernels()->linear(&x.t, &w.t, nullptr, &y.t, nullptr));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("CUDA stream") != std::string::npos);
  // A stream of another GPU.
  r = result_of(cuda_kernels()->linear(&x.t, &w.t, nullptr, &y.t, &cuda_stream_on_1));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  // Mixed dtypes.
  FakeDeviceTensor w32({16, 8}, kF32);
  r = result_of(cuda_kernels()->linear(&x.t, &w32.t, nullptr, &y.t, &cuda_stream_on_1));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("w: dtype f32 differs") != std::string::npos);
  // Tensors on two GPUs.
  FakeDeviceTensor y1({4, 16}, kBF16, 1);
  r = result_of(cuda_kernels()->linear(&x.t, &w.t, nullptr, &y1.t, &cuda_stream_on_1));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  // A host tensor among device ones.
  Tensor host_ids({MMRT_DEVICE_CPU, 0}, kI32, {4});
  FakeDeviceTensor table({10, 8}), out({4, 8});
  r = result_of(cuda_kernels()->embedding(&table.t, host_ids.get(), &out.t, &cuda_stream_on_1));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(r.message.find("ids is not on a CUDA device") != std::string::npos);
  // Shapes.
  FakeDeviceTensor bad_y({4, 15});
  r = result_of(cuda_kernels()->linear(&x.t, &w.t, nullptr, &bad_y.t, &cuda_stream_on_1));
  CHECK(r.code == MMRT_STATUS_INVALID_ARGUMENT);
  // A head larger than the attention kernels hold.
  FakeDeviceTensor q({2, 1, 512}), k({2, 1, 512});
  r = result_of(cuda_kernels()->attention(&q.t, &k.t, &k.t, nullptr, 1.0f, 1, &q.t, &cuda_stream_on_1));
  CHECK(r.code == MMRT_STATUS_UNIMPLEMENTED);
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
  CHECK(r.message.find("CUDA stream") != std::string::npos);  // the CUDA table's own check answered
  // copy goes to CUDA when either side is on the device (the CPU table would refuse the device tensor).
  const Result c = result_of(dispatch_kernels()->copy(x.get(), &dx.t, nullptr));
  CHECK(c.code == MMRT_STATUS_INVALID_ARGUMENT);
  CHECK(c.message.find("CUDA stream") != std::string::npos);
}
