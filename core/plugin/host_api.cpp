#include "core/plugin/host_api.hpp"

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "core/plugin/abi_window.hpp"
#include "core/plugin/status.hpp"

namespace mmrt::plugin {
namespace {

thread_local std::string_view current_plugin_id;

// Default alignment when a plugin passes 0: enough for any SIMD load the kernels make.
constexpr uint64_t kDefaultAlignment = 64;

struct ExtensionRegistry {
  std::mutex mutex;
  std::map<std::string, const void*, std::less<>> tables;
};

ExtensionRegistry& extensions() {
  static ExtensionRegistry registry;
  return registry;
}

struct AllocatorRegistry {
  std::mutex mutex;
  std::map<int32_t, DeviceAllocator> allocators;
};

AllocatorRegistry& allocators() {
  static AllocatorRegistry registry;
  return registry;
}

const char* device_type_name(int32_t device_type) {
  switch (device_type) {
    case MMRT_DEVICE_CPU:
      return "CPU";
    case MMRT_DEVICE_CUDA:
      return "CUDA";
  }
  return "unknown";
}

spdlog::level::level_enum to_spdlog_level(int32_t level) {
  if (level <= MMRT_LOG_TRACE) return spdlog::level::trace;
  switch (level) {
    case MMRT_LOG_DEBUG:
      return spdlog::level::debug;
    case MMRT_LOG_INFO:
      return spdlog::level::info;
    case MMRT_LOG_WARN:
      return spdlog::level::warn;
  }
  return spdlog::level::err;
}

MmrtStatus* host_status_new(int32_t code, const char* msg, uint64_t len) {
  return make_status(code, msg == nullptr ? std::string_view() : std::string_view(msg, len));
}

int32_t host_status_code(const MmrtStatus* status) {
  return status == nullptr ? MMRT_STATUS_OK : status->code;
}

const char* host_status_message(const MmrtStatus* status) {
  return status == nullptr ? "" : status->message.c_str();
}

void host_status_free(MmrtStatus* status) {
  StatusDeleter()(status);
}

void host_log(int32_t level, const char* file, int32_t line, const char* msg, uint64_t len) {
  std::string_view text = msg == nullptr ? std::string_view() : std::string_view(msg, len);
  std::string where;
  if (file != nullptr)
    where = std::filesystem::path(file).filename().string() + ":" + std::to_string(line) + ": ";
  if (current_plugin_id.empty()) {
    spdlog::log(to_spdlog_level(level), "[plugin] {}{}", where, text);
  } else {
    spdlog::log(to_spdlog_level(level), "[{}] {}{}", current_plugin_id, where, text);
  }
}

int32_t host_log_enabled(int32_t level) {
  return spdlog::should_log(to_spdlog_level(level)) ? 1 : 0;
}

MmrtStatus* cpu_alloc(uint64_t bytes, uint64_t alignment, void** out) {
  if (alignment == 0) alignment = kDefaultAlignment;
  if ((alignment & (alignment - 1)) != 0) {
    return make_status(MMRT_STATUS_INVALID_ARGUMENT,
                       "alloc: alignment " + std::to_string(alignment) + " is not a power of two");
  }
  alignment = std::max<uint64_t>(alignment, sizeof(void*));
  // aligned_alloc wants a size that is a multiple of the alignment; a zero-byte request still gets a unique
  // pointer so the plugin can free it like any other.
  uint64_t rounded = std::max<uint64_t>(bytes, 1);
  if (rounded > std::numeric_limits<uint64_t>::max() - alignment) {
    return make_status(MMRT_STATUS_RESOURCE_EXHAUSTED,
                       "alloc: " + std::to_string(bytes) + " bytes is too large");
  }
  rounded = (rounded + alignment - 1) / alignment * alignment;
  void* memory = std::aligned_alloc(alignment, rounded);
  if (memory == nullptr) {
    return make_status(MMRT_STATUS_RESOURCE_EXHAUSTED,
                       "alloc: out of host memory for " + std::to_string(bytes) + " bytes");
  }
  *out = memory;
  return nullptr;
}

MmrtStatus* host_alloc(MmrtDevice device, uint64_t bytes, uint64_t alignment, void** out) {
  if (out == nullptr) return make_status(MMRT_STATUS_INVALID_ARGUMENT, "alloc: out is NULL");
  *out = nullptr;
  if (device.device_type == MMRT_DEVICE_CPU) return cpu_alloc(bytes, alignment, out);
  DeviceAllocator allocator{};
  {
    std::lock_guard lock(allocators().mutex);
    auto it = allocators().allocators.find(device.device_type);
    if (it != allocators().allocators.end()) allocator = it->second;
  }
  if (allocator.alloc == nullptr) {
    return make_status(MMRT_STATUS_UNAVAILABLE, std::string("alloc: no allocator for ") +
                                                    device_type_name(device.device_type) + " device type " +
                                                    std::to_string(device.device_type) +
                                                    " (this build has no backend for it)");
  }
  return allocator.alloc(device, bytes, alignment, out);
}

void host_free(MmrtDevice device, void* ptr) {
  if (ptr == nullptr) return;
  if (device.device_type == MMRT_DEVICE_CPU) {
    std::free(ptr);
    return;
  }
  DeviceAllocator allocator{};
  {
    std::lock_guard lock(allocators().mutex);
    auto it = allocators().allocators.find(device.device_type);
    if (it != allocators().allocators.end()) allocator = it->second;
  }
  if (allocator.free == nullptr) {
    spdlog::error("host free: pointer for device type {} but no allocator for it; leaked",
                  device.device_type);
    return;
  }
  allocator.free(device, ptr);
}

const void* host_get_extension(const char* id) {
  if (id == nullptr) return nullptr;
  std::lock_guard lock(extensions().mutex);
  auto it = extensions().tables.find(std::string_view(id));
  return it == extensions().tables.end() ? nullptr : it->second;
}

constexpr MmrtHostApi kHostApi = {
    MMRT_SIZEOF(MmrtHostApi, get_extension),
    0,
    nullptr,
    {MMRT_ABI_MAJOR, MMRT_ABI_MINOR, kOldestPluginMinor},
    host_status_new,
    host_status_code,
    host_status_message,
    host_status_free,
    host_log,
    host_log_enabled,
    host_alloc,
    host_free,
    host_get_extension,
};

}  // namespace

const MmrtHostApi* host_api() {
  return &kHostApi;
}

void register_host_extension(std::string id, const void* table) {
  if (table == nullptr) throw std::invalid_argument("register_host_extension(" + id + "): table is null");
  std::lock_guard lock(extensions().mutex);
  auto [it, inserted] = extensions().tables.emplace(id, table);
  if (!inserted && it->second != table) {
    throw std::invalid_argument("register_host_extension: id " + id + " already has a different table");
  }
}

void register_device_allocator(int32_t device_type, DeviceAllocator allocator) {
  if (device_type == MMRT_DEVICE_CPU) {
    throw std::invalid_argument("register_device_allocator: CPU memory is built into the host");
  }
  std::lock_guard lock(allocators().mutex);
  allocators().allocators[device_type] = allocator;
}

PluginLogScope::PluginLogScope(std::string_view plugin_id) : previous_(current_plugin_id) {
  current_plugin_id = plugin_id;
}

PluginLogScope::~PluginLogScope() {
  current_plugin_id = previous_;
}

}  // namespace mmrt::plugin
