// The host services table every plugin receives (MmrtHostApi), and the registries behind its lookups.
//
// The table is static and const and lives for the whole process (plugin_abi.md c.8), so a plugin may keep the
// pointer from its entry call until it is unloaded. Host layers that offer a table to plugins (kernels,
// image) register it once at startup with register_host_extension; get_extension then finds it by id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "plugin_api/mmrt_abi.h"

namespace mmrt::plugin {

// The one host table: abi {MMRT_ABI_MAJOR, MMRT_ABI_MINOR, kOldestPluginMinor}. Every slot is [thread-safe].
const MmrtHostApi* host_api();

// Makes `table` (const, living as long as the process) answer MmrtHostApi.get_extension(id), e.g.
// register_host_extension(MMRT_KERNELS_EXTENSION, &kCpuKernels). Registering the same table again is a no-op;
// a different table under a taken id throws std::invalid_argument naming the id. Thread-safe.
void register_host_extension(std::string id, const void* table);

// Memory for one device type behind MmrtHostApi.alloc/free. CPU memory is built in; a backend (CUDA)
// registers its allocator at startup. Both functions must be thread-safe.
struct DeviceAllocator {
  MmrtStatus* (*alloc)(MmrtDevice device, uint64_t bytes, uint64_t alignment, void** out);
  void (*free)(MmrtDevice device, void* ptr);
};
// Replaces any allocator for `device_type` (MMRT_DEVICE_*). MMRT_DEVICE_CPU cannot be replaced (throws
// std::invalid_argument). Thread-safe.
void register_device_allocator(int32_t device_type, DeviceAllocator allocator);

// While alive, log lines a plugin writes through MmrtHostApi.log on this thread are prefixed with plugin_id.
// The loader opens one around every host -> plugin call it makes; plugin_id must outlive the scope. Nests.
class PluginLogScope {
 public:
  explicit PluginLogScope(std::string_view plugin_id);
  ~PluginLogScope();
  PluginLogScope(const PluginLogScope&) = delete;
  PluginLogScope& operator=(const PluginLogScope&) = delete;

 private:
  std::string_view previous_;
};

}  // namespace mmrt::plugin
