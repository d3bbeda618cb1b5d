#pragma once
// Helpers of the CUDA kernel tests: the GPU and its stream, tensors moved between host f32 vectors and the
// device in any activation dtype, and the CPU table as the reference.
//
// Every comparison feeds the CPU reference the inputs the GPU saw (rounded through the dtype first), so
// the tolerances measure the kernels' arithmetic and output rounding only. The metric is
// relative_max_error (tests/kernels/kernel_test_util.hpp): max |got - ref| / max |ref|.
//
// These tests need a GPU (ctest label `gpu`); without one, gpu() throws and every case fails loudly.

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backend/cpu_kernels.hpp"
#include "core/backend/cuda_kernels.hpp"
#include "core/backend/cuda_runtime.hpp"
#include "core/backend/tensor.hpp"
#include "core/plugin/status.hpp"
#include "kernels/cpu/convert.hpp"
#include "tests/kernels/kernel_test_util.hpp"

namespace mmrt::cuda_test {

using backend::operator==;
using backend::Tensor;
inline constexpr MmrtDevice kCpu{MMRT_DEVICE_CPU, 0};
inline constexpr MmrtDevice kGpu{MMRT_DEVICE_CUDA, 0};

struct Gpu {
  Gpu() {
    backend::cuda_init(0);  // throws UNAVAILABLE without a GPU: these tests must run on one
    stream = std::make_unique<backend::DeviceStream>(kGpu);
  }
  std::unique_ptr<backend::DeviceStream> stream;
};

inline Gpu& gpu() {
  static Gpu g;
  return g;
}

inline const MmrtStream* stream() {
  return &gpu().stream->stream();
}

inline void sync_stream() {
  gpu().stream->synchronize();
}

// Fails the case with the status message when a kernel call returned one.
inline void ok(MmrtStatus* status) {
  plugin::StatusPtr owned(status);
  if (owned) FAIL("kernel failed: " << owned->message);
}

inline int32_t code_of(MmrtStatus* status) {
  plugin::StatusPtr owned(status);
  return owned ? owned->code : MMRT_STATUS_OK;
}

// The values as the dtype stores them (f16/bf16 round to nearest even), back in f32.
inline std::vector<float> rounded(MmrtDataType dtype, const std::vector<float>& v) {
  if (dtype == backend::kF32) return v;
  std::vector<uint16_t> bits(v.size());
  std::vector<float> out(v.size());
  const int64_t n = int64_t(v.size());
  if (dtype == backend::kBF16) {
    cpu::f32_to_bf16(v.data(), bits.data(), n);
    cpu::bf16_to_f32(bits.data(), out.data(), n);
  } else {
    cpu::f32_to_f16(v.data(), bits.data(), n);
    cpu::f16_to_f32(bits.data(), out.data(), n);
  }
  return out;
}

// A CPU f32 tensor holding `v`.
inline Tensor host_f32(std::vector<int64_t> shape, const std::vector<float>& v) {
  Tensor t(kCpu, backend::kF32, std::move(shape));
  REQUIRE(size_t(t.numel()) == v.size());
  std::copy(v.begin(), v.end(), t.data_as<float>());
  return t;
}

template <typename I>
Tensor host_int(std::vector<int64_t> shape, const std::vector<I>& v) {
  Tensor t(kCpu, sizeof(I) == 4 ? backend::kI32 : backend::kI64, std::move(shape));
  REQUIRE(size_t(t.numel()) == v.size());
  std::copy(v.begin(), v.end(), t.data_as<I>());
  return t;
}

// A device tensor in `dtype` holding `v` (converted on the host), ready when the call returns.
inline Tensor device_tensor(MmrtDataType dtype, std::vector<int64_t> shape, const std::vector<float>& v) {
  Tensor host(kCpu, dtype, shape);
  REQUIRE(size_t(host.numel()) == v.size());
  if (dtype == backend::kF32) {
    std::copy(v.begin(), v.end(), host.data_as<float>());
  } else if (dtype == backend::kBF16) {
    cpu::f32_to_bf16(v.data(), host.data_as<uint16_t>(), int64_t(v.size()));
  } else {
    cpu::f32_to_f16(v.data(), host.data_as<uint16_t>(), int64_t(v.size()));
  }
  Tensor out = host.copy_to(kGpu, *stream());
  sync_stream();
  return out;
}

template <typename I>
Tensor device_int(std::vector<int64_t> shape, const std::vector<I>& v) {
  Tensor host = host_int<I>(std::move(shape), v);
  Tensor out = host.copy_to(kGpu, *stream());
  sync_stream();
  return out;
}

// A device tensor's values as f32 (synchronises the stream).
inline std::vector<float> to_host(const Tensor& t) {
  Tensor host = t.copy_to(kCpu, *stream());
  sync_stream();
  std::vector<float> out(size_t(host.numel()));
  const MmrtDataType dtype = host.dtype();
  if (dtype == backend::kF32) {
    std::copy(host.data_as<float>(), host.data_as<float>() + out.size(), out.begin());
  } else if (dtype == backend::kBF16) {
    cpu::bf16_to_f32(host.data_as<uint16_t>(), out.data(), int64_t(out.size()));
  } else {
    cpu::f16_to_f32(host.data_as<uint16_t>(), out.data(), int64_t(out.size()));
  }
  return out;
}

inline std::vector<float> values(const Tensor& host_f32_tensor) {
  const float* p = host_f32_tensor.data_as<float>();
  return {p, p + host_f32_tensor.numel()};
}

// Largest error the GPU may show against the CPU reference, relative to the reference's magnitude: the
// output rounding of the dtype (2^-8 for bf16, 2^-11 for f16) with headroom for fp32 reassociation.
inline double tolerance(MmrtDataType dtype) {
  if (dtype == backend::kBF16) return 1.6e-2;
  if (dtype == backend::kF16) return 2e-3;
  return 2e-5;
}

inline std::string name_of(MmrtDataType dtype) {
  return backend::dtype_name(dtype);
}

inline const MmrtDataType kDtypes[] = {backend::kF32, backend::kF16, backend::kBF16};

// Checks the device result against the CPU reference with the dtype's tolerance (or `tol` when given).
inline void expect_close(const Tensor& device, const Tensor& reference, MmrtDataType dtype, double tol = 0) {
  const std::vector<float> got = to_host(device);
  const std::vector<float> ref = values(reference);
  REQUIRE(got.size() == ref.size());
  const double err = cpu::test::relative_max_error(got, cpu::test::to_double(ref));
  const double limit = tol > 0 ? tol : tolerance(dtype);
  CHECK_MESSAGE(err <= limit, name_of(dtype) << ": relative max error " << err << " above " << limit);
}

}  // namespace mmrt::cuda_test
