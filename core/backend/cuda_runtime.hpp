// The host's handle on CUDA devices: initialisation, owned streams, copies between host and device memory,
// and pinned staging buffers. Declared in every build; a build without CUDA (-DMMRT_CUDA=OFF) links
// no_cuda.cpp instead of cuda_runtime.cpp, whose functions throw UNAVAILABLE "built without CUDA" (and
// cuda_compiled() is false), so callers need no #ifdef.
//
// Threading: every free function is thread-safe. A DeviceStream or PinnedBuffer is used by one thread at a
// time (the engine loop).
#pragma once

#include <cstddef>
#include <cstdint>

#include "plugin_api/mmrt_abi.h"

namespace mmrt::backend {

// Whether this build has the CUDA backend.
bool cuda_compiled();

// Makes CUDA device `device_id` usable by the host: checks that it exists and registers the caching
// allocator (cuda_allocator.hpp) for MMRT_DEVICE_CUDA, once per process. Throws StatusError UNAVAILABLE
// naming the reason (not compiled, no driver, no such device).
void cuda_init(int32_t device_id);

// Multiprocessors of a device (cached after the first query).
int cuda_sm_count(int32_t device_id);

// An owned non-blocking CUDA stream on one device (it never synchronises with the legacy default stream).
class DeviceStream {
 public:
  explicit DeviceStream(MmrtDevice device);
  ~DeviceStream();
  DeviceStream(const DeviceStream&) = delete;
  DeviceStream& operator=(const DeviceStream&) = delete;

  // The stream as the ABI passes it (native is the cudaStream_t); valid while this object lives.
  const MmrtStream& stream() const { return stream_; }
  // Waits for the work queued so far; throws StatusError with the first asynchronous error it reports.
  void synchronize() const;

 private:
  MmrtStream stream_{};
};

// Enqueues a copy of `bytes` between any two of host memory and CUDA device memory on `stream` (a CUDA
// stream). Host memory must stay valid and unchanged until the stream is synchronised, and a host
// destination holds the data only after that. CPU to CPU copies at once. Throws StatusError.
void copy_bytes(void* dst, MmrtDevice dst_device, const void* src, MmrtDevice src_device, size_t bytes,
                const MmrtStream& stream);

// Copies host memory to a device synchronously, on a private per-device upload stream (weights at load).
void upload_sync(void* dst, MmrtDevice dst_device, const void* src, size_t bytes);

// Page-locked host memory for staging uploads and downloads (asynchronous copies need it to overlap).
// reserve() keeps the contents only when the capacity suffices; otherwise it reallocates.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  // At least `bytes` of pinned memory; the caller must have synchronised every stream that still reads or
  // writes the old buffer.
  void* reserve(size_t bytes);
  void* data() const { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace mmrt::backend
