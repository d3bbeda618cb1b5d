// Device memory: the caching pool reaches a steady state, tensors round-trip between host and device, and
// the weight store uploads checkpoint tensors in the compute dtype (bf16 as is, others converted once).
#include <doctest/doctest.h>

#include <filesystem>

#include "core/backend/cuda_allocator.hpp"
#include "core/backend/weights.hpp"
#include "core/model/checkpoint.hpp"
#include "tests/kernels/cuda/cuda_test_util.hpp"

using namespace mmrt;
using namespace mmrt::cuda_test;

TEST_CASE("the pool serves a repeated allocation pattern without new cudaMalloc calls") {
  gpu();
  auto step = [] {
    Tensor a(kGpu, backend::kBF16, {37, 129}), b(kGpu, backend::kF32, {1000}), c(kGpu, backend::kI32, {3});
    Tensor d(kGpu, backend::kF32, {0});
    CHECK(a.data() != nullptr);
    CHECK(d.data() != nullptr);
  };
  step();  // warms the pool
  const backend::CudaPoolStats before = backend::cuda_pool_stats();
  for (int i = 0; i < 10; ++i) step();
  const backend::CudaPoolStats after = backend::cuda_pool_stats();
  CHECK(after.n_device_mallocs == before.n_device_mallocs);
  CHECK(after.bytes_in_use == before.bytes_in_use);
}

TEST_CASE("tensors round-trip between host and device") {
  const auto v = cpu::test::random_normal(12345, 71);
  Tensor host = host_f32({12345}, v);
  Tensor dev = host.copy_to(kGpu, *stream());
  Tensor dev2(kGpu, backend::kF32, {12345});
  dev2.copy_from(dev, *stream());
  Tensor back = dev2.copy_to(kCpu, *stream());
  sync_stream();
  CHECK(values(back) == v);
}

TEST_CASE("the weight store uploads checkpoint tensors in the compute dtype") {
  gpu();
  const std::filesystem::path dir =
      std::filesystem::path(MMRT_SOURCE_DIR) / "tests/fixtures/llava/llava_default";
  const model::Checkpoint checkpoint = model::Checkpoint::open(dir);
  const std::string name = checkpoint.names().front();
  const model::TensorInfo& info = checkpoint.at(name);
  std::vector<float> reference(size_t(info.numel()));
  checkpoint.read_f32(info, reference);
  for (MmrtDataType dt : kDtypes) {
    CAPTURE(name_of(dt));
    backend::WeightStore store(checkpoint, kGpu, dt);
    const MmrtTensor& t = store.get(name);
    CHECK(t.device.device_type == MMRT_DEVICE_CUDA);
    CHECK(t.dtype == dt);
    // A view of the store's device memory, read back through a host copy.
    Tensor host(kCpu, dt, std::vector<int64_t>(t.shape, t.shape + t.ndim));
    backend::copy_bytes(host.data(), kCpu, t.data, t.device, host.nbytes(), *stream());
    sync_stream();
    std::vector<float> got(reference.size());
    if (dt == backend::kF32) {
      std::copy(host.data_as<float>(), host.data_as<float>() + got.size(), got.begin());
    } else if (dt == backend::kBF16) {
      cpu::bf16_to_f32(host.data_as<uint16_t>(), got.data(), int64_t(got.size()));
    } else {
      cpu::f16_to_f32(host.data_as<uint16_t>(), got.data(), int64_t(got.size()));
    }
    CHECK(got == rounded(dt, reference));
  }
}
