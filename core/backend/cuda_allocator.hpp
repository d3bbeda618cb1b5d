// Device memory for MmrtHostApi.alloc/free on CUDA: a caching pool, so a steady-state step (the plugin's
// scratch, the engine's per-step batch tensors, kernel workspaces) never reaches cudaMalloc or cudaFree.
//
// Sizes are rounded up to a size class: four classes per power of two below 32 MiB (at most 25% waste),
// multiples of 2 MiB above (weights and the KV cache, allocated once). A freed block goes back to its
// class's free list, per device, and is handed out again as is. When cudaMalloc fails the pool returns
// every cached block to the driver (cudaFree, which synchronises the device: only on this out-of-memory
// path) and tries once more.
//
// Stream ordering: a block freed while kernels that use it are still queued is reused without an event.
// That is correct because all device work of a process goes on one stream per device (the model's), so
// the next user of the block is queued behind the last one. A host that drives several streams on one
// device must add events before relying on this pool.
//
// Threading: every function is thread-safe (one mutex). Compiled only with MMRT_WITH_CUDA.
#pragma once

#include <cstdint>

#include "core/plugin/host_api.hpp"

namespace mmrt::backend {

struct CudaPoolStats {
  uint64_t n_device_mallocs = 0;  // cudaMalloc calls so far (steady state: unchanged between steps)
  uint64_t bytes_reserved = 0;    // held from the driver, in use or cached
  uint64_t bytes_in_use = 0;      // handed out and not yet freed (size classes, not requested bytes)
};

// The allocator to register for MMRT_DEVICE_CUDA. Alignment up to 256 bytes (cudaMalloc's) is honoured;
// a larger one is INVALID_ARGUMENT. Zero bytes still yields a unique pointer.
plugin::DeviceAllocator cuda_caching_allocator();

CudaPoolStats cuda_pool_stats();

// The size class a request of `bytes` is served from (exposed for tests).
uint64_t cuda_size_class(uint64_t bytes);

}  // namespace mmrt::backend
