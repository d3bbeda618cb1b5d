#include "core/backend/cuda_allocator.hpp"

#include <cuda_runtime_api.h>
#include <spdlog/spdlog.h>

#include <bit>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/backend/status.hpp"

namespace mmrt::backend {
namespace {

constexpr uint64_t kMinClass = 512;
constexpr uint64_t kLargeThreshold = 32ull << 20;
constexpr uint64_t kLargeGranularity = 2ull << 20;
constexpr uint64_t kMaxAlignment = 256;

struct Block {
  int32_t device;
  uint64_t size_class;
};

struct Pool {
  std::mutex mutex;
  std::map<std::pair<int32_t, uint64_t>, std::vector<void*>> free_blocks;  // (device, class) -> blocks
  std::unordered_map<void*, Block> in_use;
  CudaPoolStats stats;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: frees may arrive from static destructors at exit
  return *p;
}

// Runs `body` with `device` current, restoring the caller's device afterwards.
template <typename Body>
cudaError_t on_device(int32_t device, Body body) {
  int previous = 0;
  if (cudaError_t e = cudaGetDevice(&previous); e != cudaSuccess) return e;
  if (previous != device) {
    if (cudaError_t e = cudaSetDevice(device); e != cudaSuccess) return e;
  }
  const cudaError_t result = body();
  if (previous != device) cudaSetDevice(previous);
  return result;
}

// Gives every cached (free) block back to the driver. Caller holds the mutex.
void release_cached(Pool& p) {
  for (auto& [key, blocks] : p.free_blocks) {
    for (void* ptr : blocks) {
      on_device(key.first, [&] { return cudaFree(ptr); });
      p.stats.bytes_reserved -= key.second;
    }
    blocks.clear();
  }
}

MmrtStatus* pool_alloc(MmrtDevice device, uint64_t bytes, uint64_t alignment, void** out) {
  return status_boundary("cuda alloc", [&] {
    if (out == nullptr) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    if (alignment > kMaxAlignment || (alignment & (alignment - 1)) != 0) {
      throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "alignment " + std::to_string(alignment) +
                                                          " (device memory offers powers of two up to " +
                                                          std::to_string(kMaxAlignment) + ")");
    }
    const uint64_t size_class = cuda_size_class(bytes);
    Pool& p = pool();
    std::lock_guard lock(p.mutex);
    auto& cached = p.free_blocks[{device.device_id, size_class}];
    void* ptr = nullptr;
    if (!cached.empty()) {
      ptr = cached.back();
      cached.pop_back();
    } else {
      auto try_malloc = [&] {
        return on_device(device.device_id, [&] { return cudaMalloc(&ptr, size_class); });
      };
      cudaError_t e = try_malloc();
      if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();  // clear the sticky-free error before retrying
        release_cached(p);
        e = try_malloc();
      }
      if (e != cudaSuccess) {
        cudaGetLastError();
        throw StatusError(
            e == cudaErrorMemoryAllocation ? MMRT_STATUS_RESOURCE_EXHAUSTED : MMRT_STATUS_INTERNAL,
            "cudaMalloc of " + std::to_string(size_class) +
                " bytes on cuda:" + std::to_string(device.device_id) + ": " + cudaGetErrorString(e));
      }
      ++p.stats.n_device_mallocs;
      p.stats.bytes_reserved += size_class;
    }
    p.in_use[ptr] = Block{device.device_id, size_class};
    p.stats.bytes_in_use += size_class;
    *out = ptr;
  });
}

void pool_free(MmrtDevice device, void* ptr) {
  if (ptr == nullptr) return;
  Pool& p = pool();
  std::lock_guard lock(p.mutex);
  auto it = p.in_use.find(ptr);
  if (it == p.in_use.end()) {
    spdlog::error("cuda free: {} on cuda:{} was not allocated by the pool; ignored", ptr, device.device_id);
    return;
  }
  const Block block = it->second;
  p.in_use.erase(it);
  p.stats.bytes_in_use -= block.size_class;
  p.free_blocks[{block.device, block.size_class}].push_back(ptr);
}

}  // namespace

uint64_t cuda_size_class(uint64_t bytes) {
  if (bytes <= kMinClass) return kMinClass;
  if (bytes >= kLargeThreshold)
    return (bytes + kLargeGranularity - 1) / kLargeGranularity * kLargeGranularity;
  // Four classes per power of two: 2^k · {1, 1.25, 1.5, 1.75}.
  const uint64_t power = std::bit_floor(bytes);
  const uint64_t step = power / 4;
  return (bytes + step - 1) / step * step;
}

plugin::DeviceAllocator cuda_caching_allocator() {
  return {&pool_alloc, &pool_free};
}

CudaPoolStats cuda_pool_stats() {
  Pool& p = pool();
  std::lock_guard lock(p.mutex);
  return p.stats;
}

}  // namespace mmrt::backend
