// The CUDA entry points of a build without CUDA (-DMMRT_CUDA=OFF or no nvcc): every one reports that the
// backend is not compiled in, so host code calls them without #ifdef.
#include <cstring>

#include "core/backend/cuda_kernels.hpp"
#include "core/backend/cuda_runtime.hpp"
#include "core/backend/status.hpp"

namespace mmrt::backend {
namespace {

[[noreturn]] void not_compiled() {
  throw StatusError(MMRT_STATUS_UNAVAILABLE,
                    "mmrt was built without CUDA (configure with -DMMRT_CUDA=ON on a machine with nvcc)");
}

}  // namespace

const MmrtKernels* cuda_kernels() {
  return nullptr;
}

bool cuda_compiled() {
  return false;
}

void cuda_init(int32_t) {
  not_compiled();
}

int cuda_sm_count(int32_t) {
  not_compiled();
}

DeviceStream::DeviceStream(MmrtDevice) {
  not_compiled();
}

DeviceStream::~DeviceStream() = default;

void DeviceStream::synchronize() const {
  not_compiled();
}

void copy_bytes(void* dst, MmrtDevice dst_device, const void* src, MmrtDevice src_device, size_t bytes,
                const MmrtStream&) {
  if (dst_device.device_type != MMRT_DEVICE_CPU || src_device.device_type != MMRT_DEVICE_CPU) not_compiled();
  if (bytes) std::memmove(dst, src, bytes);
}

void upload_sync(void*, MmrtDevice, const void*, size_t) {
  not_compiled();
}

PinnedBuffer::~PinnedBuffer() = default;

void* PinnedBuffer::reserve(size_t) {
  not_compiled();
}

}  // namespace mmrt::backend
