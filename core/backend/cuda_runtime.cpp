#include "core/backend/cuda_runtime.hpp"

#include <cuda_runtime_api.h>

#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "core/backend/cuda_allocator.hpp"
#include "core/backend/status.hpp"
#include "core/plugin/host_api.hpp"

namespace mmrt::backend {
namespace {

void check_cuda(cudaError_t e, const std::string& what) {
  if (e == cudaSuccess) return;
  const int32_t code =
      e == cudaErrorMemoryAllocation ? MMRT_STATUS_RESOURCE_EXHAUSTED
      : (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorInvalidDevice)
          ? MMRT_STATUS_UNAVAILABLE
          : MMRT_STATUS_INTERNAL;
  throw StatusError(code, what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

// Makes a device current for the scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int32_t device) {
    check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device)
      check_cuda(cudaSetDevice(device), "cudaSetDevice(" + std::to_string(device) + ")");
  }
  ~DeviceGuard() {
    int now = previous_;
    if (cudaGetDevice(&now) == cudaSuccess && now != previous_) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

cudaStream_t native(const MmrtStream& stream) {
  if (stream.device_type != MMRT_DEVICE_CUDA || stream.native == nullptr) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                      "copy needs a CUDA stream (the legacy default stream is not used)");
  }
  return static_cast<cudaStream_t>(stream.native);
}

}  // namespace

bool cuda_compiled() {
  return true;
}

void cuda_init(int32_t device_id) {
  int count = 0;
  check_cuda(cudaGetDeviceCount(&count), "no usable CUDA device (cudaGetDeviceCount)");
  if (device_id < 0 || device_id >= count) {
    throw StatusError(MMRT_STATUS_UNAVAILABLE, "cuda:" + std::to_string(device_id) + " does not exist; " +
                                                   std::to_string(count) + " CUDA device(s) found");
  }
  static std::once_flag registered;
  std::call_once(registered,
                 [] { plugin::register_device_allocator(MMRT_DEVICE_CUDA, cuda_caching_allocator()); });
}

int cuda_sm_count(int32_t device_id) {
  static std::mutex mutex;
  static std::map<int32_t, int> counts;
  std::lock_guard lock(mutex);
  if (auto it = counts.find(device_id); it != counts.end()) return it->second;
  int n = 0;
  check_cuda(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device_id), "cudaDeviceGetAttribute");
  counts[device_id] = n;
  return n;
}

DeviceStream::DeviceStream(MmrtDevice device) {
  if (device.device_type != MMRT_DEVICE_CUDA) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "DeviceStream needs a CUDA device");
  }
  DeviceGuard guard(device.device_id);
  cudaStream_t s = nullptr;
  check_cuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  stream_ = {MMRT_DEVICE_CUDA, device.device_id, s};
}

DeviceStream::~DeviceStream() {
  if (stream_.native != nullptr) cudaStreamDestroy(static_cast<cudaStream_t>(stream_.native));
}

void DeviceStream::synchronize() const {
  check_cuda(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_.native)),
             "cuda:" + std::to_string(stream_.device_id) + " stream");
}

void copy_bytes(void* dst, MmrtDevice dst_device, const void* src, MmrtDevice src_device, size_t bytes,
                const MmrtStream& stream) {
  if (bytes == 0) return;
  const bool dst_cpu = dst_device.device_type == MMRT_DEVICE_CPU,
             src_cpu = src_device.device_type == MMRT_DEVICE_CPU;
  if (dst_cpu && src_cpu) {
    std::memmove(dst, src, bytes);
    return;
  }
  const cudaMemcpyKind kind = src_cpu   ? cudaMemcpyHostToDevice
                              : dst_cpu ? cudaMemcpyDeviceToHost
                                        : cudaMemcpyDeviceToDevice;
  DeviceGuard guard(stream.device_id);
  check_cuda(cudaMemcpyAsync(dst, src, bytes, kind, native(stream)),
             "cudaMemcpyAsync of " + std::to_string(bytes) + " bytes");
}

void upload_sync(void* dst, MmrtDevice dst_device, const void* src, size_t bytes) {
  static std::mutex mutex;
  static std::map<int32_t, cudaStream_t> streams;  // one per device, kept for the process
  if (bytes == 0) return;
  std::lock_guard lock(mutex);
  DeviceGuard guard(dst_device.device_id);
  cudaStream_t& s = streams[dst_device.device_id];
  if (s == nullptr)
    check_cuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s),
             "upload of " + std::to_string(bytes) + " bytes");
  check_cuda(cudaStreamSynchronize(s), "upload of " + std::to_string(bytes) + " bytes");
}

PinnedBuffer::~PinnedBuffer() {
  if (data_ != nullptr) cudaFreeHost(data_);
}

void* PinnedBuffer::reserve(size_t bytes) {
  if (bytes <= capacity_ && data_ != nullptr) return data_;
  if (data_ != nullptr) cudaFreeHost(data_);
  data_ = nullptr;
  capacity_ = 0;
  // Grow geometrically so a slowly growing batch does not reallocate every step.
  size_t want = bytes < 4096 ? 4096 : bytes;
  want += want / 2;
  check_cuda(cudaHostAlloc(&data_, want, cudaHostAllocDefault),
             "cudaHostAlloc of " + std::to_string(want) + " bytes");
  capacity_ = want;
  return data_;
}

}  // namespace mmrt::backend
