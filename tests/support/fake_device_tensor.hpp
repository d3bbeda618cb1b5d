// A tensor descriptor (bf16 unless said otherwise) that claims to live on a GPU, for tests of argument checks
// that must refuse or pass a call before any device memory is touched: its data pointer is never
// dereferenced.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "plugin_api/mmrt_abi.h"

namespace mmrt::test {

struct FakeDeviceTensor {
  explicit FakeDeviceTensor(std::vector<int64_t> dims, MmrtDataType dtype = {MMRT_DTYPE_BFLOAT, 16, 1},
                            int32_t device_id = 0)
      : shape(std::move(dims)) {
    t.data = next_address();
    t.device = {MMRT_DEVICE_CUDA, device_id};
    t.ndim = int32_t(shape.size());
    t.dtype = dtype;
    t.shape = shape.data();
  }
  FakeDeviceTensor(const FakeDeviceTensor&) = delete;
  FakeDeviceTensor& operator=(const FakeDeviceTensor&) = delete;

  std::vector<int64_t> shape;
  MmrtTensor t{};

 private:
  // Addresses 1 GiB apart, so fake tensors never overlap (the aliasing checks compare byte ranges).
  static void* next_address() {
    static uintptr_t next = uintptr_t{1} << 40;
    next += uintptr_t{1} << 30;
    return reinterpret_cast<void*>(next);
  }
};

}  // namespace mmrt::test
